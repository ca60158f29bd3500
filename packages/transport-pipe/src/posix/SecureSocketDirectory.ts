/**
 * The private directory that holds busway's Unix sockets.
 *
 * @module
 */
import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InsecureSocketDirectoryError } from '../errors.js';

/** Where {@link prepareSecureSocketDirectory} puts the directory. */
export interface SecureSocketDirectoryOptions {
  /**
   * The directory to use (created if missing, verified if present).
   * Default: `$XDG_RUNTIME_DIR/busway` when `XDG_RUNTIME_DIR` is set, else
   * `<os.tmpdir()>/busway-<uid>`.
   */
  readonly directory: string;
}

/**
 * The directory {@link prepareSecureSocketDirectory} uses when none is given.
 *
 * @example
 * ```ts
 * defaultSocketDirectory({ XDG_RUNTIME_DIR: '/run/user/1000' }); // '/run/user/1000/busway'
 * ```
 */
export function defaultSocketDirectory(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const runtime = env['XDG_RUNTIME_DIR'];
  // XDG_RUNTIME_DIR is by specification owned by the user with mode 0700 and cleaned at logout:
  // the natural home. Elsewhere the per-user name keeps two users from fighting over one path.
  if (runtime !== undefined && runtime !== '') return join(runtime, 'busway');
  return join(tmpdir(), `busway-${currentUid()}`);
}

function currentUid(): number {
  // process.getuid is absent on Windows, where this module is not used for sockets.
  return process.getuid?.() ?? 0;
}

/**
 * Create (or verify) a directory only the current user can enter, and return its path.
 *
 * Creates the directory with mode 0700 if it is missing, then checks with `lstat` (so a symlink
 * is never followed) that it is a real directory, owned by the current user, with no group or
 * other permission bits. An existing directory that fails the check is refused, not repaired:
 * another user may already have planted a socket in it.
 *
 * @throws {@link InsecureSocketDirectoryError} when the directory is not private.
 * @example
 * ```ts
 * const dir = await prepareSecureSocketDirectory();
 * const path = join(dir, 'orders.sock');
 * ```
 */
export async function prepareSecureSocketDirectory(
  options: Readonly<Partial<SecureSocketDirectoryOptions>> = {},
): Promise<string> {
  const directory = options.directory ?? defaultSocketDirectory();
  try {
    // Not recursive: parents are the system's (tmpdir, XDG_RUNTIME_DIR), and creating them with
    // our mode would hide a missing runtime directory.
    await mkdir(directory, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new InsecureSocketDirectoryError(
        directory,
        `cannot create it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { cause: err },
      );
    }
  }
  await verifyPrivateDirectory(directory);
  return directory;
}

/**
 * Check that `directory` is a real directory owned by the current user with mode 0700 (no group or
 * other bits). Does not follow symlinks.
 *
 * @throws {@link InsecureSocketDirectoryError} with the reason.
 * @example
 * ```ts
 * await verifyPrivateDirectory('/run/user/1000/busway');
 * ```
 */
export async function verifyPrivateDirectory(directory: string): Promise<void> {
  const info = await lstat(directory);
  if (info.isSymbolicLink()) throw new InsecureSocketDirectoryError(directory, 'it is a symbolic link');
  if (!info.isDirectory()) throw new InsecureSocketDirectoryError(directory, 'it is not a directory');
  const uid = currentUid();
  if (info.uid !== uid)
    throw new InsecureSocketDirectoryError(
      directory,
      `it is owned by uid ${info.uid}, not by the current user (uid ${uid})`,
    );
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new InsecureSocketDirectoryError(
      directory,
      `its mode is ${mode.toString(8).padStart(4, '0')}; group and others must have no access (0700)`,
    );
  }
  if ((mode & 0o700) !== 0o700) {
    throw new InsecureSocketDirectoryError(
      directory,
      `its mode is ${mode.toString(8).padStart(4, '0')}; the owner needs rwx (0700)`,
    );
  }
}
