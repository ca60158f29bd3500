/**
 * The private directory that holds a bus's datagram sockets on POSIX:
 * `<base>/busway-<uid>/mailslot/<bus>/`, where `<base>` is `$XDG_RUNTIME_DIR` or the temporary
 * directory. Anyone who can reach a socket file can write to it, so the directory is the access
 * control: `0700`, owned by the current user, checked (never repaired) on every open.
 *
 * @module
 */
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InsecureSlotDirectoryError } from '../errors.js';

/**
 * Create (0700) or check one directory level: a real directory, ours, no group or other bits.
 *
 * @example
 * ```ts
 * ensurePrivateDirectory('/tmp/busway-1000');
 * ```
 */
export function ensurePrivateDirectory(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new InsecureSlotDirectoryError(path, 'cannot create it', { cause: err });
    }
  }
  // lstat, not stat: a symlink planted in /tmp must not redirect us into someone else's directory.
  const st = lstatSync(path);
  if (!st.isDirectory()) throw new InsecureSlotDirectoryError(path, 'not a directory (or a symlink)');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new InsecureSlotDirectoryError(path, `owned by uid ${st.uid}, not ${uid}`);
  if ((st.mode & 0o077) !== 0) {
    throw new InsecureSlotDirectoryError(path, `mode ${(st.mode & 0o777).toString(8)} lets others in; expected 700`);
  }
}

/**
 * The socket directory of one bus.
 *
 * @example
 * ```ts
 * const dir = SlotDirectory.open('orders');
 * const path = dir.slotPath('12345');
 * console.log(dir.list()); // ['12345.sock', ...]
 * ```
 */
export class SlotDirectory {
  /**
   * Resolve and secure the directory for `bus`.
   *
   * @param base - parent of the `busway-<uid>` directory. Default: `$XDG_RUNTIME_DIR`, else `os.tmpdir()`.
   */
  static open(bus: string, base?: string): SlotDirectory {
    const root = base ?? process.env.XDG_RUNTIME_DIR ?? tmpdir();
    const user = join(root, `busway-${process.getuid?.() ?? 'user'}`);
    ensurePrivateDirectory(user);
    const kind = join(user, 'mailslot');
    ensurePrivateDirectory(kind);
    const path = join(kind, bus);
    ensurePrivateDirectory(path);
    return new SlotDirectory(path);
  }

  /** Absolute path of the directory. */
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Path of the socket named `key` (a file name such as `42.sock`). */
  slotPath(key: string): string {
    return join(this.path, key);
  }

  /** The socket file names currently present. */
  list(): string[] {
    try {
      return readdirSync(this.path).filter((name) => name.endsWith('.sock'));
    } catch {
      return [];
    }
  }
}
