/**
 * The identity of the process at the other end of a Unix socket, as the kernel reports it.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { PeerIdentity } from '@busway/core';
import type * as Koffi from 'koffi';

// Linux <asm-generic/socket.h>: SOL_SOCKET = 1, SO_PEERCRED = 17; struct ucred is
// { pid_t pid; uid_t uid; gid_t gid; }, three 32-bit integers.
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const UCRED_SIZE = 12;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: number[]) => number;

let getsockopt: GetSockOpt | null | undefined;

function loadGetSockOpt(): GetSockOpt | null {
  if (getsockopt !== undefined) return getsockopt;
  getsockopt = null;
  // Only Linux has SO_PEERCRED with this layout (macOS has LOCAL_PEERPID / getpeereid, not wired
  // up yet). koffi is loaded lazily so that a platform without it never pays for it.
  if (process.platform !== 'linux') return getsockopt;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof Koffi;
    const libc = koffi.load('libc.so.6');
    getsockopt = libc.func(
      'int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *length)',
    ) as GetSockOpt;
  } catch {
    // No koffi binary for this architecture, or a libc not named libc.so.6 (musl): identity is
    // simply unknown, which the transport contract allows.
    getsockopt = null;
  }
  return getsockopt;
}

/**
 * The file descriptor behind a connected `net.Socket`. Node does not expose it publicly (nor
 * `SO_PEERCRED`), but its libuv pipe handle carries it as `_handle.fd`; a negative or missing
 * value means the socket has no descriptor this module can use.
 */
function socketFd(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Read the peer's process id and user id from a connected Unix socket with `SO_PEERCRED`
 * (through koffi, as Node's `net` does not offer it). The kernel records them when the connection
 * is made, so they cannot be forged by the peer.
 *
 * Returns `undefined` where the OS or runtime cannot tell: other platforms than Linux, a socket
 * without a descriptor, or koffi not loadable.
 *
 * @example
 * ```ts
 * server.on('connection', (socket) => {
 *   const peer = readPeerCredentials(socket); // { pid: 4242, uid: 1000 }
 * });
 * ```
 */
export function readPeerCredentials(socket: Socket): PeerIdentity | undefined {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  const call = loadGetSockOpt();
  if (call === null) return undefined;
  const value = Buffer.alloc(UCRED_SIZE);
  const length = [UCRED_SIZE];
  if (call(fd, SOL_SOCKET, SO_PEERCRED, value, length) !== 0 || length[0] !== UCRED_SIZE) return undefined;
  return { pid: value.readInt32LE(0), uid: value.readUInt32LE(4) };
}
