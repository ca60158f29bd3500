/**
 * The few libc calls the POSIX backend needs, bound through koffi. Loaded lazily so that importing
 * the package on Windows (or for its standalone Win32 API) never touches libc.
 *
 * Linux only for now: the constants and the `sockaddr_un` layout below are Linux's (macOS has a
 * `sun_len` byte and a different `MSG_DONTWAIT`), and {@link loadLibc} says so instead of guessing.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { ConfigurationError } from '@busway/core';
import type Koffi from 'koffi';

/** Linux values of the constants used by the backend. */
export const LinuxConstants = {
  AF_UNIX: 1,
  SOCK_DGRAM: 2,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  MSG_DONTWAIT: 0x40,
  MSG_TRUNC: 0x20,
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  POLLIN: 0x1,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  EINTR: 4,
  EAGAIN: 11,
  ENOENT: 2,
  ECONNREFUSED: 111,
  EMSGSIZE: 90,
  ENOBUFS: 105,
  /** `sizeof(struct sockaddr_un)`: 2-byte family + 108-byte path. */
  SOCKADDR_UN_SIZE: 110,
  /** Longest socket path, excluding the terminating NUL. */
  SUN_PATH_MAX: 107,
} as const;

/** The bound functions; numbers in, numbers out, `errno` through {@link Libc.errno}. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: number): number;
  connect(fd: number, addr: Uint8Array, len: number): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, len: number): number;
  close(fd: number): number;
  pipe2(fds: Int32Array, flags: number): number;
  read(fd: number, buf: Uint8Array, len: number): number;
  write(fd: number, buf: Uint8Array, len: number): number;
  /** `poll` on a koffi worker thread: the only call that may block, so it never runs on the loop. */
  pollAsync(fds: Uint8Array, nfds: number, timeout: number, done: (err: unknown, result: number) => void): void;
  /** The calling thread's current `errno`. */
  errno(): number;
}

let cached: Libc | undefined;

/**
 * Bind libc once per process.
 *
 * @example
 * ```ts
 * const libc = loadLibc();
 * const fd = libc.socket(LinuxConstants.AF_UNIX, LinuxConstants.SOCK_DGRAM, 0);
 * ```
 */
export function loadLibc(): Libc {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') {
    throw new ConfigurationError(`the POSIX mailslot backend supports Linux only, not ${process.platform}`);
  }
  // koffi is CommonJS; createRequire keeps this module ESM without a top-level native import.
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  const lib = koffi.load('libc.so.6');
  const poll = lib.func('int poll(_Inout_ void *fds, unsigned long nfds, int timeout)');
  cached = {
    socket: lib.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
    bind: lib.func('int bind(int fd, const void *addr, uint32_t len)') as Libc['bind'],
    sendto: lib.func(
      'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
    ) as Libc['sendto'],
    connect: lib.func('int connect(int fd, const void *addr, uint32_t len)') as Libc['connect'],
    send: lib.func('intptr_t send(int fd, const void *buf, size_t len, int flags)') as Libc['send'],
    recv: lib.func('intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)') as Libc['recv'],
    setsockopt: lib.func(
      'int setsockopt(int fd, int level, int name, const void *value, uint32_t len)',
    ) as Libc['setsockopt'],
    close: lib.func('int close(int fd)') as Libc['close'],
    pipe2: lib.func('int pipe2(_Out_ int *fds, int flags)') as Libc['pipe2'],
    read: lib.func('intptr_t read(int fd, _Out_ void *buf, size_t len)') as Libc['read'],
    write: lib.func('intptr_t write(int fd, const void *buf, size_t len)') as Libc['write'],
    pollAsync: (fds, nfds, timeout, done) => {
      (poll as unknown as { async: (...args: unknown[]) => void }).async(fds, nfds, timeout, done);
    },
    errno: () => koffi.errno(),
  };
  return cached;
}
