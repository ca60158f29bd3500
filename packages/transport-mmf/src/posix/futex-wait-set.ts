/**
 * One `futex_waitv` call waiting on every ring doorbell of the process at once.
 *
 * Why: a futex wait runs as an async koffi call, and koffi's async calls run on libuv's thread
 * pool (four threads unless `UV_THREADPOOL_SIZE` says otherwise). A wait per ring took one thread
 * per idle ring: six idle rings with `idleCheckMs=5000` held an `fs.stat` back 4.5 s. Here all
 * doorbells of the process share one call, and so one thread. The set changes while the call is
 * in flight (a ring goes to sleep, another wakes): a private word of this process, also in the
 * set, is bumped and woken to make the call return, and it is issued again with the new set.
 *
 * `futex_waitv` is Linux 5.16 and later; {@link FutexWaitSet.supported} tells, and the doorbell
 * falls back to a wait of its own per ring without it.
 *
 * @module
 */
import { Libc, libc } from './libc.js';

/** `FUTEX_WAITV_MAX` of the kernel: one slot goes to the private interrupt word. */
const MAX_WORDS = 127;
/** Bytes of one `struct futex_waitv`: u64 val, u64 uaddr, u32 flags, u32 reserved. */
const WAITV_SIZE = 24;

interface Entry {
  readonly value: number;
  readonly deadline: bigint;
  readonly done: Promise<void>;
  readonly resolve: () => void;
}

/**
 * Waits on many futex words with one async `futex_waitv` in flight.
 *
 * @example
 * ```ts
 * if (FutexWaitSet.supported()) await FutexWaitSet.shared().wait(address, expected, 1000);
 * ```
 */
export class FutexWaitSet {
  static #shared: FutexWaitSet | undefined;
  static #supported: boolean | undefined;

  readonly #entries = new Map<bigint, Entry>();
  /** The private word bumped and woken to interrupt the call in flight. */
  readonly #interrupt: Int32Array;
  readonly #interruptAddress: bigint;
  readonly #waiters = Buffer.alloc(WAITV_SIZE * (MAX_WORDS + 1));
  readonly #timespec = Buffer.alloc(16);
  #inFlight = false;

  private constructor() {
    // Native memory, so that its address is stable for the kernel; never freed (one per process).
    const c = libc();
    const pointer = c.alloc(4);
    this.#interrupt = new Int32Array(c.view(pointer, 4));
    this.#interruptAddress = c.address(pointer);
  }

  /** Whether this kernel has `futex_waitv`, asked once with a call that can only fail. */
  static supported(): boolean {
    if (FutexWaitSet.#supported === undefined) {
      const c = libc();
      // No waiters: EINVAL where the call exists, ENOSYS where it does not.
      const result = Number(c.futexWaitv(c.SYS_futex_waitv, null, 0, 0, null, Libc.CLOCK_MONOTONIC));
      FutexWaitSet.#supported = !(result === -1 && c.errno() === Libc.ENOSYS);
    }
    return FutexWaitSet.#supported;
  }

  /** The process's set. */
  static shared(): FutexWaitSet {
    FutexWaitSet.#shared ??= new FutexWaitSet();
    return FutexWaitSet.#shared;
  }

  /** Whether the word at `address` is being waited on (a wait is in flight or about to be). */
  has(address: bigint): boolean {
    return this.#entries.has(address);
  }

  /** Whether the set can take one more word. */
  get full(): boolean {
    return this.#entries.size >= MAX_WORDS;
  }

  /**
   * Resolve once the word at `address` (in a shared mapping) is woken while holding `value`, or
   * no longer holds it, or after `timeoutMs`. Spurious returns happen: re-check and wait again.
   * A word already waited on shares that wait. Never rejects.
   */
  wait(address: bigint, value: number, timeoutMs: number): Promise<void> {
    const existing = this.#entries.get(address);
    if (existing !== undefined) return existing.done;
    let resolve: () => void = () => {};
    const done = new Promise<void>((r) => (resolve = r));
    const deadline = process.hrtime.bigint() + BigInt(Math.max(0, Math.ceil(timeoutMs * 1e6)));
    this.#entries.set(address, { value: value | 0, deadline, done, resolve });
    this.#changed();
    return done;
  }

  #changed(): void {
    if (!this.#inFlight) return this.#issue();
    Atomics.add(this.#interrupt, 0, 1);
    const c = libc();
    c.futex(c.SYS_futex, this.#interruptAddress, Libc.FUTEX_WAKE_PRIVATE, 1, null, null, 0);
  }

  #issue(): void {
    if (this.#inFlight || this.#entries.size === 0) return;
    const waiters = this.#waiters;
    waiters.fill(0);
    waiters.writeBigUInt64LE(BigInt(Atomics.load(this.#interrupt, 0) >>> 0), 0);
    waiters.writeBigUInt64LE(this.#interruptAddress, 8);
    waiters.writeUInt32LE(Libc.FUTEX2_SIZE_U32 | Libc.FUTEX2_PRIVATE, 16);
    const order: bigint[] = [];
    let deadline: bigint | undefined;
    for (const [address, entry] of this.#entries) {
      const at = WAITV_SIZE * (order.length + 1);
      waiters.writeBigUInt64LE(BigInt(entry.value >>> 0), at);
      waiters.writeBigUInt64LE(address, at + 8);
      waiters.writeUInt32LE(Libc.FUTEX2_SIZE_U32, at + 16); // shared: the word is in a mapping
      order.push(address);
      if (deadline === undefined || entry.deadline < deadline) deadline = entry.deadline;
    }
    const end = deadline as bigint;
    this.#timespec.writeBigInt64LE(end / 1_000_000_000n, 0);
    this.#timespec.writeBigInt64LE(end % 1_000_000_000n, 8);
    this.#inFlight = true;
    const c = libc();
    c.futexWaitv.async(
      c.SYS_futex_waitv,
      waiters,
      order.length + 1,
      0,
      this.#timespec,
      Libc.CLOCK_MONOTONIC,
      (_err: unknown, result: unknown) => this.#returned(Number(result), order, end),
    );
  }

  #returned(result: number, order: bigint[], deadline: bigint): void {
    this.#inFlight = false;
    if (result >= 1) {
      this.#settle(order[result - 1] as bigint); // that word was woken
    } else if (result < 0) {
      // Timed out, or a word no longer held its value when the call began (EAGAIN), or a signal.
      // errno is the worker thread's and not seen here: tell them apart by the clock.
      const now = process.hrtime.bigint();
      for (const address of order) {
        const entry = this.#entries.get(address);
        if (entry !== undefined && (now < deadline || entry.deadline <= now)) this.#settle(address);
      }
    }
    // result 0: the interrupt word, bumped because the set changed.
    this.#issue();
  }

  #settle(address: bigint): void {
    const entry = this.#entries.get(address);
    if (entry === undefined) return;
    this.#entries.delete(address);
    entry.resolve();
  }
}
