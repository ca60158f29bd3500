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
  /** This member holds its shared lock (see {@link takeOverIfAbandoned}). */
  #locked = true;

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
    attempt: for (;;) {
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
        let locked = true;
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
          // The creator sizes the object right after creating it: wait for it, bounded. A creator
          // killed before that left an empty object nobody will ever size: when no member holds
          // it, remove it and create it again (see takeOver).
          while (current === 0) {
            if (takeOver(c, fd, name, () => fstat(c, fd, name).size === 0)) continue attempt;
            locked = false; // the failed upgrade dropped our shared lock: relocked below
            if (Date.now() >= deadline) break;
            await delay(5);
            const now = fstat(c, fd, name);
            if (now.nlink === 0) {
              c.close(fd); // someone else removed it: start over
              continue attempt;
            }
            current = now.size;
          }
          if (current !== size) throw new RingMismatchError(name, `its size is ${current} bytes, expected ${size}`);
          if (!locked && !relock(c, fd, name)) {
            c.close(fd); // being removed by a leaver or by another member taking it over
            continue attempt;
          }
        }
        const address = c.mmap(null, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0) as unknown;
        if (address === null || address === -1n || address === BigInt('0xffffffffffffffff'))
          throw failure(c, 'mmap', name);
        return new PosixSharedMemory(name, fd, address, c.view(address, size), created);
      } catch (err) {
        // An object we created and could not set up would otherwise keep the name forever: every
        // later member would find it empty or of the wrong size.
        if (created) c.shm_unlink(name);
        c.close(fd);
        throw err;
      }
    }
  }

  /**
   * For a member waiting for the creator to initialise the object: when no other member holds it
   * (its creator died before initialising it) and `stillUninitialised()` confirms that under the
   * exclusive lock, remove the name and close this mapping, and return true: the caller opens the
   * name again, which creates it. Otherwise return false; this member then no longer holds its
   * shared lock (a refused upgrade drops it) until {@link relock}.
   *
   * @example
   * ```ts
   * if (shm.takeOverIfAbandoned(() => Atomics.load(header, 0) === 0)) shm = await PosixSharedMemory.open(name, options);
   * ```
   */
  takeOverIfAbandoned(stillUninitialised: () => boolean): boolean {
    if (this.#closed) return false;
    const c = libc();
    this.#locked = false;
    if (!takeOver(c, this.#fd, this.name, stillUninitialised, () => c.munmap(this.#address, this.buffer.byteLength)))
      return false;
    this.#closed = true;
    return true;
  }

  /**
   * True when the name no longer leads to this object: another member took it over as abandoned
   * (or a leaver removed it) after this one opened it. Nobody will ever format it then: close this
   * mapping without unlinking and open the name again, which finds the new object.
   *
   * @example
   * ```ts
   * if (shm.isUnlinked()) { shm.close(false); shm = await PosixSharedMemory.open(name, options); }
   * ```
   */
  isUnlinked(): boolean {
    if (this.#closed) return true;
    return fstat(libc(), this.#fd, this.name).nlink === 0;
  }

  /**
   * Take this member's shared lock again after {@link takeOverIfAbandoned} returned false, once
   * the object is initialised. False when the object is being removed or already was (a leaver
   * or another member holds the exclusive lock, or the name no longer leads to it): close this
   * mapping without unlinking and open the name again.
   *
   * @example
   * ```ts
   * if (!shm.relock()) { shm.close(false); shm = await PosixSharedMemory.open(name, options); }
   * ```
   */
  relock(): boolean {
    if (this.#closed) return false;
    if (this.#locked) return true;
    this.#locked = relock(libc(), this.#fd, this.name);
    return this.#locked;
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

/**
 * Remove an object that its creator left uninitialised, if nobody holds it; true when removed
 * (and `fd` closed, after `beforeClose`). Safe against every other opener because all of them
 * follow one rule: take the shared lock right after opening, then check that the name still leads
 * to the object (nlink > 0), and only then use it.
 * - The exclusive lock is granted only when no member holds a shared one. A live creator holds its
 *   shared lock from before it sizes the object until it leaves, so it is never taken over.
 * - An opener that has not locked yet either fails to lock while we hold the exclusive lock, or
 *   locks after we unlinked and sees nlink 0: both start over and find the new object.
 * - The name is unlinked only if it still leads to this object (nlink > 0 under the exclusive
 *   lock: every unlink in this file happens under that lock), so an object another member
 *   already re-created is never removed.
 * - Two waiters racing: the first upgrade wins; a refused upgrade drops the loser's shared lock
 *   (Linux removes the old lock before checking for conflicts), so waiters do not hold each other
 *   off: the next attempt of either succeeds once only they are left.
 */
function takeOver(
  c: LibcFunctions,
  fd: number,
  name: string,
  stillUninitialised: () => boolean,
  beforeClose?: () => void,
): boolean {
  if ((c.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) as number) < 0) return false;
  if (fstat(c, fd, name).nlink === 0 || !stillUninitialised()) {
    c.flock(fd, Libc.LOCK_SH | Libc.LOCK_NB); // downgrade: we are a member after all
    return false;
  }
  c.shm_unlink(name);
  beforeClose?.();
  c.close(fd);
  return true;
}

/** Take the shared lock again (non-blocking) and check that the name still leads to the object. */
function relock(c: LibcFunctions, fd: number, name: string): boolean {
  if ((c.flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) as number) < 0) return false;
  return fstat(c, fd, name).nlink > 0;
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
