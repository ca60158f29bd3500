/**
 * A named POSIX shared-memory object (`shm_open` + `ftruncate` + `mmap`), owner-only, exposed as
 * an `ArrayBuffer` so `Atomics` work on it. Membership is counted by the kernel through `flock`:
 * every member holds a shared lock; the last one to leave gets the exclusive lock and unlinks the
 * name. A member killed with SIGKILL loses its lock with its process, so nothing leaks.
 *
 * @module
 */
import { ConfigurationError } from '@busway/core';
import { RingMismatchError, SharedMemoryError } from '../errors.js';
import { libc, Libc, type LibcFunctions } from './libc.js';

/** How to open a {@link PosixSharedMemory}. */
export type PosixSharedMemoryOptions = Readonly<
  Partial<{
    /** Bytes the object must have; created with this size, refused if it exists with another. Default: required. */
    size: number;
    /** How long to wait for a concurrent creator to size the object, in ms. Default: 2000. */
    initTimeoutMs: number;
  }>
>;

/**
 * One member's mapping of a named shared-memory object.
 *
 * @example
 * ```ts
 * const shm = await PosixSharedMemory.open('/busway-1000-orders', { size: 65792 });
 * new Int32Array(shm.buffer)[0] = 1;
 * shm.close();
 * ```
 */
export class PosixSharedMemory {
  #fd: number;
  #address: unknown;
  #closed = false;

  private constructor(
    /** The object's name, starting with "/". */
    readonly name: string,
    fd: number,
    address: unknown,
    /** The mapping. Invalid after {@link close}. */
    readonly buffer: ArrayBuffer,
    /** True when this member created the object (it is zero-filled and must be initialised). */
    readonly created: boolean,
  ) {
    this.#fd = fd;
    this.#address = address;
  }

  /** The mapping's start address (a koffi pointer value), for futex calls. */
  get address(): unknown {
    return this.#address;
  }

  /**
   * Open `name`, creating it (mode 0600) if it does not exist. Refuses (with
   * `RingMismatchError`, before mapping anything) an object owned by another user, readable or
   * writable by others, or of another size.
   *
   * @example
   * ```ts
   * const shm = await PosixSharedMemory.open('/busway-1000-orders', { size: 1 << 20 });
   * ```
   */
  static async open(name: string, options: PosixSharedMemoryOptions): Promise<PosixSharedMemory> {
    const size = options.size;
    if (size === undefined || !Number.isSafeInteger(size) || size <= 0)
      throw new ConfigurationError('shared memory size must be a positive integer');
    if (!/^\/[^/]{1,250}$/.test(name))
      throw new ConfigurationError(
        `shared memory name "${name}" must be "/" followed by up to 250 characters without "/"`,
      );
    const c = libc();
    const deadline = Date.now() + (options.initTimeoutMs ?? 2000);
    for (;;) {
      let created = true;
      let fd = c.shm_open(name, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0o600) as number;
      if (fd < 0 && c.errno() === Libc.EEXIST) {
        created = false;
        fd = c.shm_open(name, Libc.O_RDWR | Libc.O_CLOEXEC, 0) as number;
        if (fd < 0 && c.errno() === Libc.ENOENT) continue; // unlinked in between: create it
      }
      if (fd < 0) throw failure(c, 'shm_open', name);
      try {
        // A shared lock per member; a leaver holding the exclusive lock is unlinking: retry.
        if ((c.flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) as number) < 0) {
          c.close(fd);
          if (Date.now() > deadline)
            throw new SharedMemoryError('flock', c.errno(), `${name} stayed locked by a leaving member`);
          await delay(5);
          continue;
        }
        const stat = fstat(c, fd, name);
        if (stat.nlink === 0) {
          c.close(fd); // the last member unlinked it after we opened it: start over
          continue;
        }
        if (created) {
          // umask may have cleared bits but never adds any; set exactly owner read/write.
          if ((c.fchmod(fd, 0o600) as number) < 0) throw failure(c, 'fchmod', name);
          if ((c.ftruncate(fd, size) as number) < 0) throw failure(c, 'ftruncate', name);
        } else {
          if (stat.uid !== (c.getuid() as number))
            throw new RingMismatchError(name, `owned by uid ${stat.uid}, not by this user`);
          if ((stat.mode & 0o077) !== 0)
            throw new RingMismatchError(
              name,
              `mode 0${(stat.mode & 0o777).toString(8)} lets other users in; busway creates 0600`,
            );
          let current = stat.size;
          // The creator sizes the object right after creating it: wait for it, bounded.
          while (current === 0 && Date.now() < deadline) {
            await delay(5);
            current = fstat(c, fd, name).size;
          }
          if (current !== size) throw new RingMismatchError(name, `its size is ${current} bytes, expected ${size}`);
        }
        const address = c.mmap(null, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0) as unknown;
        if (address === null || address === -1n || address === BigInt('0xffffffffffffffff'))
          throw failure(c, 'mmap', name);
        return new PosixSharedMemory(name, fd, address, c.view(address, size), created);
      } catch (err) {
        c.close(fd);
        throw err;
      }
    }
  }

  /**
   * Remove `name` from the system even if members still map it (for tests and clean-up tools).
   *
   * @example
   * ```ts
   * PosixSharedMemory.unlink('/busway-1000-orders');
   * ```
   */
  static unlink(name: string): boolean {
    return (libc().shm_unlink(name) as number) === 0;
  }

  /**
   * The object's owner and permission bits as the kernel reports them.
   *
   * @example
   * ```ts
   * expect(shm.permissions().mode & 0o777).toBe(0o600);
   * ```
   */
  permissions(): { readonly uid: number; readonly mode: number } {
    const stat = fstat(libc(), this.#fd, this.name);
    return { uid: stat.uid, mode: stat.mode };
  }

  /**
   * Unmap, release this member's lock and, if it was the last member, unlink the name (unless
   * `unlink` is false: an object that turned out not to be ours is left alone). Idempotent.
   * Views of {@link buffer} must not be used afterwards.
   *
   * @example
   * ```ts
   * shm.close();
   * ```
   */
  close(unlink = true): void {
    if (this.#closed) return;
    this.#closed = true;
    const c = libc();
    c.munmap(this.#address, this.buffer.byteLength);
    if (unlink && (c.flock(this.#fd, Libc.LOCK_EX | Libc.LOCK_NB) as number) === 0) c.shm_unlink(this.name);
    c.close(this.#fd);
  }
}

function fstat(c: LibcFunctions, fd: number, name: string): { uid: number; mode: number; nlink: number; size: number } {
  const buf = Buffer.alloc(c.stat.size);
  if ((c.fstat(fd, buf) as number) < 0) throw failure(c, 'fstat', name);
  return {
    uid: buf.readUInt32LE(c.stat.uid),
    mode: buf.readUInt32LE(c.stat.mode),
    nlink: c.stat.nlinkBytes === 8 ? Number(buf.readBigUInt64LE(c.stat.nlink)) : buf.readUInt32LE(c.stat.nlink),
    size: Number(buf.readBigInt64LE(c.stat.fileSize)),
  };
}

function failure(c: LibcFunctions, call: string, name: string): SharedMemoryError {
  const errno = c.errno();
  return new SharedMemoryError(call, errno, `${name}: ${String(c.strerror(errno))}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
