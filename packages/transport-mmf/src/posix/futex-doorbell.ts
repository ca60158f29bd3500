/**
 * Sleeping and waking on a 32-bit word of shared memory with Linux futexes, through koffi. The
 * wait runs as an async koffi call on a worker thread, so the event loop never blocks, and all
 * readers of one mapping in a process share a single wait in flight (a worker thread is precious).
 * Where the kernel has `futex_waitv`, every doorbell of the process shares one wait too
 * ({@link FutexWaitSet}).
 *
 * @module
 */
import { FutexWaitSet } from './futex-wait-set.js';
import { libc, Libc } from './libc.js';

/**
 * A futex word in a shared mapping.
 *
 * @example
 * ```ts
 * const bell = new FutexDoorbell(shm.address, RingOffset.doorbell);
 * await bell.sleep(Atomics.load(i32, RingOffset.doorbell >> 2), 1000);
 * bell.wake(); // from another process
 * ```
 */
export class FutexDoorbell {
  readonly #address: bigint;
  #inFlight: { value: number; done: Promise<void> } | undefined;
  readonly #timespec = Buffer.alloc(16);

  constructor(base: unknown, offset: number) {
    if (typeof base !== 'bigint') throw new TypeError('FutexDoorbell needs the mapping address as a bigint pointer');
    this.#address = base + BigInt(offset);
  }

  /**
   * Resolve once the word no longer holds `value` and a writer woke sleepers, after `timeoutMs`,
   * or at once if the word already differs. Spurious wake-ups are possible: re-check and sleep
   * again. Never rejects.
   *
   * @example
   * ```ts
   * await bell.sleep(expected, 1000);
   * ```
   */
  sleep(value: number, timeoutMs: number): Promise<void> {
    // Every doorbell of the process in one futex_waitv, where the kernel has it (and the set has
    // room): a wait of its own per ring would hold one of libuv's pool threads per idle ring.
    if (FutexWaitSet.supported()) {
      const set = FutexWaitSet.shared();
      if (set.has(this.#address) || !set.full) return set.wait(this.#address, value, timeoutMs);
    }
    const current = this.#inFlight;
    if (current !== undefined) {
      // One wait per mapping per process: a reader wanting another value re-checks after it.
      return current.done;
    }
    const c = libc();
    const seconds = Math.floor(timeoutMs / 1000);
    this.#timespec.writeBigInt64LE(BigInt(seconds), 0);
    this.#timespec.writeBigInt64LE(BigInt(Math.floor((timeoutMs - seconds * 1000) * 1e6)), 8);
    const done = new Promise<void>((resolve) => {
      c.futex.async(c.SYS_futex, this.#address, Libc.FUTEX_WAIT, value | 0, this.#timespec, null, 0, () => {
        this.#inFlight = undefined;
        resolve();
      });
    });
    this.#inFlight = { value, done };
    return done;
  }

  /**
   * Wake every process sleeping on the word. A system call: writers call it only when a reader
   * announced that it sleeps.
   *
   * @example
   * ```ts
   * ring.onWake = () => bell.wake();
   * ```
   */
  wake(): void {
    const c = libc();
    c.futex(c.SYS_futex, this.#address, Libc.FUTEX_WAKE, 0x7fffffff, null, null, 0);
  }

  /**
   * Wake this process's own wait (and, harmlessly, others') and wait for it to return, so the
   * mapping can be unmapped safely.
   *
   * @example
   * ```ts
   * await bell.drain();
   * shm.close();
   * ```
   */
  async drain(): Promise<void> {
    const shared = (): boolean => FutexWaitSet.supported() && FutexWaitSet.shared().has(this.#address);
    while (this.#inFlight !== undefined || shared()) {
      this.wake();
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}
