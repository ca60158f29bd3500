/**
 * The few libc functions the POSIX backend calls, bound through koffi on first use. Only Linux is
 * supported: the `struct stat` offsets, flag values and the futex syscall number are Linux's.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';
import type { LibraryHandle } from 'koffi';

/** A C function bound by koffi: callable, and `.async(...args, callback)` off the main thread. */
export type KoffiFunction = ReturnType<LibraryHandle['func']>;

/** Linux `open(2)` / `flock(2)` / `mmap(2)` constants (identical on x86-64 and arm64). */
export const Libc = {
  O_RDWR: 0o2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_CLOEXEC: 0o2000000,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  LOCK_SH: 1,
  LOCK_EX: 2,
  LOCK_NB: 4,
  EEXIST: 17,
  ENOENT: 2,
  EAGAIN: 11,
  EWOULDBLOCK: 11,
  ETIMEDOUT: 110,
  EINTR: 4,
  FUTEX_WAIT: 0,
  FUTEX_WAKE: 1,
  /** FUTEX_WAKE | FUTEX_PRIVATE_FLAG: a word of this process only. */
  FUTEX_WAKE_PRIVATE: 129,
  /** futex_waitv entry flags: a 32-bit word, and (for a word of this process only) private. */
  FUTEX2_SIZE_U32: 0x02,
  FUTEX2_PRIVATE: 128,
  CLOCK_MONOTONIC: 1,
  ENOSYS: 38,
} as const;

/** `struct stat` field offsets and size for the running architecture. */
export interface StatLayout {
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly nlinkBytes: 4 | 8;
  readonly nlink: number;
  readonly fileSize: number;
}

/** The bound functions. Each returns -1 and sets `errno` on failure, like C. */
export interface LibcFunctions {
  readonly shm_open: KoffiFunction;
  readonly shm_unlink: KoffiFunction;
  readonly ftruncate: KoffiFunction;
  readonly fchmod: KoffiFunction;
  readonly fstat: KoffiFunction;
  readonly flock: KoffiFunction;
  readonly mmap: KoffiFunction;
  readonly munmap: KoffiFunction;
  readonly close: KoffiFunction;
  readonly getuid: KoffiFunction;
  readonly strerror: KoffiFunction;
  readonly sched_yield: KoffiFunction;
  /** `syscall(SYS_futex, addr, op, val, timeout, NULL, 0)`. */
  readonly futex: KoffiFunction;
  /** `syscall(SYS_futex_waitv, waiters, count, 0, absoluteTimeout, clockid)` (Linux 5.16+). */
  readonly futexWaitv: KoffiFunction;
  readonly SYS_futex_waitv: number;
  readonly errno: () => number;
  readonly view: (pointer: unknown, length: number) => ArrayBuffer;
  /** `bytes` of native memory, never moved (and, here, never freed): for words the kernel holds. */
  readonly alloc: (bytes: number) => unknown;
  /** The address of native memory from `alloc`. */
  readonly address: (pointer: unknown) => bigint;
  readonly stat: StatLayout;
  readonly SYS_futex: number;
}

let bound: LibcFunctions | undefined;

/**
 * The libc bindings, loaded once per process.
 *
 * @example
 * ```ts
 * const { getuid } = libc();
 * console.log(getuid());
 * ```
 */
export function libc(): LibcFunctions {
  if (bound !== undefined) return bound;
  if (process.platform !== 'linux')
    throw new Error(`the POSIX shared-memory backend supports Linux, not ${process.platform}`);
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof Koffi;
  const lib: LibraryHandle = koffi.load('libc.so.6');
  const arm = process.arch === 'arm64';
  // syscall(2) is variadic in C; with integer and pointer arguments only, the fixed prototype
  // passes them in the same registers on x86-64 and arm64, and koffi can then call it async.
  bound = {
    shm_open: lib.func('int shm_open(const char *name, int oflag, uint32_t mode)'),
    shm_unlink: lib.func('int shm_unlink(const char *name)'),
    ftruncate: lib.func('int ftruncate(int fd, int64_t length)'),
    fchmod: lib.func('int fchmod(int fd, uint32_t mode)'),
    fstat: lib.func('int fstat(int fd, _Out_ uint8_t *buf)'),
    flock: lib.func('int flock(int fd, int operation)'),
    mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: lib.func('int munmap(void *addr, size_t length)'),
    close: lib.func('int close(int fd)'),
    getuid: lib.func('uint32_t getuid()'),
    strerror: lib.func('const char *strerror(int errnum)'),
    sched_yield: lib.func('int sched_yield()'),
    futex: lib.func('long syscall(long nr, void *addr, int op, int val, void *timeout, void *addr2, int val3)'),
    futexWaitv: lib.func(
      'long syscall(long nr, void *waiters, uint32_t count, uint32_t flags, void *timeout, int clockid)',
    ),
    errno: () => koffi.errno(),
    view: (pointer, length) => koffi.view(pointer, length),
    alloc: (bytes) => koffi.alloc('uint8_t', bytes) as unknown,
    address: (pointer) => BigInt(koffi.address(pointer)),
    stat: arm
      ? { size: 128, mode: 16, nlink: 20, nlinkBytes: 4, uid: 24, fileSize: 48 }
      : { size: 144, mode: 24, nlink: 16, nlinkBytes: 8, uid: 28, fileSize: 48 },
    SYS_futex: arm ? 98 : 202,
    // The same number on both: futex_waitv came after the syscall tables were unified.
    SYS_futex_waitv: 449,
  };
  return bound;
}
