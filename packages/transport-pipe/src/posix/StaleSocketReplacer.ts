/**
 * Detecting and replacing the socket file a dead hub left behind, without ever removing a live one.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, rename, unlink } from 'node:fs/promises';
import { connect } from 'node:net';

/** What a probe of a socket path found. */
export type SocketProbe =
  | { readonly state: 'live' }
  | { readonly state: 'absent' }
  /** A socket file of ours that refused a connection: its listener is gone. */
  | { readonly state: 'stale' }
  /** Something at the path that is not a socket owned by the current user: never touched. */
  | { readonly state: 'foreign' };

/**
 * Look at `path` and learn whether a listener is behind it.
 *
 * `ECONNREFUSED` means nobody listens (its owner died). A connection, or an
 * attempt that neither connects nor is refused within `timeout` ms (a hub too busy to accept),
 * counts as live: when in doubt, never unlink.
 *
 * @example
 * ```ts
 * const probe = await probeSocket(path, 500);
 * if (probe.state === 'stale') await replaceStaleSocket(path, 500);
 * ```
 */
export async function probeSocket(path: string, timeout: number): Promise<SocketProbe> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return { state: 'absent' };
  }
  // Only ever treat a socket file owned by us as ours to replace: anything else in the private
  // directory was put there by someone else and is left for a human.
  if (!info.isSocket() || info.uid !== (process.getuid?.() ?? info.uid)) return { state: 'foreign' };
  const outcome = await tryConnect(path, timeout);
  if (outcome === 'refused') return { state: 'stale' };
  if (outcome === 'absent') return { state: 'absent' };
  return { state: 'live' };
}

function tryConnect(path: string, timeout: number): Promise<'connected' | 'refused' | 'absent'> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => done('connected'), timeout);
    function done(result: 'connected' | 'refused' | 'absent'): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once('connect', () => done('connected'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('refused');
      else if (err.code === 'ENOENT') done('absent');
      else done('connected');
    });
  });
}

/**
 * Remove a socket file that {@link probeSocket} found stale, safely against a concurrent member
 * doing the same.
 *
 * The race to avoid: two members both see the stale file; A removes it and binds a fresh socket;
 * B, acting on its older probe, would remove A's live socket with a plain `unlink`. So this never
 * unlinks the path: it atomically renames whatever is there to a private name, then connects to
 * the moved file (a bound socket answers under any of its names). Refused: it is the dead one, and
 * it is deleted. Answered: it is a live hub that won the race, and it is put back with `link`,
 * which never overwrites. Identity by inode was tried first and rejected: a freshly bound socket
 * often reuses the inode number of the file just removed.
 *
 * Returns `true` if the stale file is gone (removed here or by someone else), `false` if a live
 * socket holds the path (it was put back).
 *
 * @example
 * ```ts
 * if ((await probeSocket(path, 500)).state === 'stale' && (await replaceStaleSocket(path, 500))) server.listen(path);
 * ```
 */
export async function replaceStaleSocket(path: string, timeout: number): Promise<boolean> {
  const grave = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, grave);
  } catch {
    return true; // Nothing there any more: someone else removed it first.
  }
  if ((await tryConnect(grave, timeout)) !== 'connected') {
    await unlink(grave);
    return true;
  }
  // We moved the socket of a hub that bound after our probe. Put it back; if yet another file took
  // the path meanwhile, link fails with EEXIST rather than overwrite it (and the hub we moved stays
  // unreachable: a three-way race this narrow is reported, not repaired).
  try {
    await link(grave, path);
  } finally {
    await unlink(grave);
  }
  return false;
}
