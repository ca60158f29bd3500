/**
 * How readers of a ring go to sleep and how writers wake them, over the ring header's
 * (doorbell, sleepers) pair. Platform-neutral (only `Atomics`); each backend supplies the wait
 * itself (a futex on Linux, a named semaphore on Win32) as a {@link Doorbell}.
 *
 * The pair is one 64-bit word: the doorbell (the generation) in its low half, `sleepers` (the
 * announcements made in this generation and not yet withdrawn) in its high half. Every change to
 * it is one 64-bit atomic operation, so a reader can tell whether its own announcement is still
 * there: it is as long as the generation is the one it announced in.
 *
 * - A reader **announces** (adds 1 to `sleepers`, reading the generation `g` in the same
 *   operation), checks for records once more, and only then waits for the generation to leave `g`.
 * - A writer, after its commit, **takes** every announcement at once: `sleepers` to 0 and the
 *   generation to `g + 1` in one compare-and-swap, then wakes that many (futex: all waiters;
 *   semaphore: that many units).
 * - The reader **withdraws** its announcement once its wait is over, however it ended (woken,
 *   timed out, or never begun because the recheck found records): if the generation is still `g`
 *   it takes 1 off `sleepers`; otherwise a writer took the announcement and woke for it, and on a
 *   counting doorbell the reader takes back the unit released for it unless its wait consumed one.
 *
 * So every announcement leaves `sleepers` exactly once, and `sleepers` counts only readers that
 * are asleep or about to be: a writer rings only for them, and units do not pile up in a
 * semaphore to wake readers that have nothing to read.
 *
 * Why no wake-up is lost: the announcement and the writer's commit are both sequentially
 * consistent read-modify-writes, each followed by a load of what the other wrote (the reader's
 * recheck loads the record and cursor, the writer loads `sleepers`). Either the writer sees the
 * announcement, takes it and rings (the generation moves, so a wait on `g` returns at once even if
 * it starts after the ring), or the reader's recheck sees the record and it does not sleep. The
 * reader withdraws only after its wait is over, so no writer can see "nobody asleep" while it is
 * about to sleep.
 *
 * @module
 */
import { RING_HEADER_SIZE, RingOffset } from './ring-layout.js';

/** Index of the (doorbell, sleepers) pair in a `BigInt64Array` over the ring header. */
const PAIR = RingOffset.doorbell >> 3;
/** One announcement: 1 in the high half. */
const ONE_SLEEPER = 1n << 32n;

/** The doorbell (low half) of a pair value, as the signed 32-bit word a futex compares. */
function generationOf(pair: bigint): number {
  return Number(BigInt.asIntN(32, pair));
}

/** `sleepers` (high half) of a pair value. */
function sleepersOf(pair: bigint): number {
  return Number(BigInt.asIntN(32, pair >> 32n));
}

/**
 * A 64-bit view of a ring's header, through which the sleep protocol's functions reach the pair.
 *
 * @example
 * ```ts
 * const header = sleepHeader(mapping.buffer);
 * ```
 */
export function sleepHeader(buffer: ArrayBuffer): BigInt64Array {
  return new BigInt64Array(buffer, 0, RING_HEADER_SIZE / 8);
}

/**
 * Reader side: announce a sleep and return the generation it was made in (the doorbell value to
 * wait on). Check for records once more afterwards, and end with {@link withdrawSleep} whatever
 * happens.
 *
 * @example
 * ```ts
 * const generation = announceSleep(header);
 * ```
 */
export function announceSleep(header: BigInt64Array): number {
  return generationOf(Atomics.add(header, PAIR, ONE_SLEEPER));
}

/**
 * Reader side: take back the announcement made in `generation`. True when it was still there;
 * false when a writer took it (and rang for it).
 *
 * @example
 * ```ts
 * if (!withdrawSleep(header, generation)) takeBackUnit();
 * ```
 */
export function withdrawSleep(header: BigInt64Array, generation: number): boolean {
  for (;;) {
    const current = Atomics.load(header, PAIR);
    if (generationOf(current) !== generation) return false;
    // Same generation but no announcement left: a writer that clears `sleepers` and bumps the
    // doorbell in two steps (allowed before this protocol, see docs/mmf-ring.md) is between them.
    // It took ours and is about to ring.
    if (sleepersOf(current) <= 0) return false;
    if (Atomics.compareExchange(header, PAIR, current, current - ONE_SLEEPER) === current) return true;
  }
}

/**
 * Writer side: take every announcement (`sleepers` to 0) and move the doorbell on, in one step.
 * Returns how many announcements were taken: wake that many (0: nobody to wake, another writer
 * took them or they were withdrawn).
 *
 * @example
 * ```ts
 * const sleepers = takeSleepers(header);
 * if (sleepers > 0) wake(sleepers);
 * ```
 */
export function takeSleepers(header: BigInt64Array): number {
  for (;;) {
    const current = Atomics.load(header, PAIR);
    const sleepers = sleepersOf(current);
    if (sleepers <= 0) return 0;
    const next = BigInt((generationOf(current) + 1) >>> 0); // high half (sleepers) 0
    if (Atomics.compareExchange(header, PAIR, current, next) === current) return sleepers;
  }
}

/** What a backend waits with. */
export interface Doorbell {
  /**
   * Wait, off the event loop, until a writer rings after the doorbell left `generation`, or
   * `timeoutMs` passes (a futex wait on that value; a semaphore wait). Resolves how many doorbell
   * units the wait consumed: 1 when it took a semaphore unit, else 0. Spurious returns are allowed.
   */
  wait(generation: number, timeoutMs: number): Promise<number>;
  /**
   * Counting doorbells (a semaphore) only: take up to `count` units without blocking. Called with
   * the units released for this process that its wait did not consume (an announcement a writer
   * took after the wait timed out, or while the recheck found records; units released to end the
   * wait at close); left there, each would end some later sleep at once for nothing.
   */
  takeBack?(count: number): void;
}

/**
 * The sleeping side of one ring in one process: at most one wait in flight, and so at most one
 * announcement, however many transports of the process read the ring. (An announcement per
 * transport would make a writer release units that the single wait cannot consume.)
 *
 * @example
 * ```ts
 * const sleeper = new RingSleeper(mapping.buffer, { wait: (g, ms) => futexWait(g, ms).then(() => 0) });
 * const slept = sleeper.sleep(() => reader.hasWork(), 1000);
 * if (slept === undefined) pollAgain(); else await slept;
 * ```
 */
export class RingSleeper {
  readonly #header: BigInt64Array;
  #inFlight: Promise<void> | undefined;
  /** Units released by {@link close} to end the wait in flight; taken back when it ends. */
  #interruptions = 0;
  #closed = false;

  constructor(
    buffer: ArrayBuffer,
    readonly doorbell: Doorbell,
  ) {
    this.#header = sleepHeader(buffer);
  }

  /** Whether this process has a wait in flight on the ring. */
  get asleep(): boolean {
    return this.#inFlight !== undefined;
  }

  /**
   * Sleep until a writer rings or `timeoutMs` passes, unless `hasWork` (the caller's check for
   * records, made after the announcement) finds some: then undefined, and nothing to wait for. A
   * caller that finds a wait already in flight shares it (its own check still comes after that
   * wait's announcement, so a record committed since is either seen now or rung for). Never
   * rejects; spurious returns are allowed.
   */
  sleep(hasWork: () => boolean, timeoutMs: number): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (this.#inFlight !== undefined) return hasWork() ? undefined : this.#inFlight;
    const generation = announceSleep(this.#header);
    if (hasWork()) {
      this.#settle(generation, 0);
      return undefined;
    }
    const inFlight = this.doorbell.wait(generation, timeoutMs).then(
      (consumed) => this.#settle(generation, consumed),
      // A failed wait consumed nothing we can know of: withdraw all the same.
      () => this.#settle(generation, 0),
    );
    this.#inFlight = inFlight;
    return inFlight;
  }

  /**
   * End the wait in flight, if any (`interrupt` wakes it and returns the units it released for
   * that), withdrawing its announcement; later sleeps return undefined. The ring may be unmapped
   * once this resolves.
   */
  async close(interrupt: () => number): Promise<void> {
    this.#closed = true;
    while (this.#inFlight !== undefined) {
      this.#interruptions += interrupt();
      await Promise.race([this.#inFlight, new Promise((resolve) => setTimeout(resolve, 10))]);
    }
  }

  /** The wait is over (or never began): withdraw the announcement, and take back what is ours. */
  #settle(generation: number, consumed: number): void {
    this.#inFlight = undefined;
    const taken = !withdrawSleep(this.#header, generation);
    // Units released for this process: one if a writer took the announcement, plus those close()
    // released; the wait consumed `consumed` of them (or a stray unit, when it took another
    // process's: that process then wakes by its own timeout or the next ring, as before).
    const owed = (taken ? 1 : 0) + this.#interruptions - consumed;
    this.#interruptions = 0;
    if (owed > 0) this.doorbell.takeBack?.(owed);
  }
}
