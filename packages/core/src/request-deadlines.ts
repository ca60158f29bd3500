/**
 * Deadlines of pending requests, with one timer per distinct timeout rather than one per request.
 *
 * A `setTimeout` plus `clearTimeout` per request was a tenth of an in-process round trip in
 * profiles. Requests of one bus almost always share a timeout, and deadlines armed with the same
 * timeout expire in the order they were armed, so each timeout value keeps a queue of its entries
 * in arming order (= deadline order) and one timer for the earliest.
 *
 * An entry carries its own current deadline (`Timed.deadline`), so arming and disarming touch no
 * map: disarming only marks the entry, arming again queues it again, and the queue drops what is
 * stale (disarmed, or re-armed further back) as it meets it. A `Map` of key → deadline did the same
 * with four map operations per request, a tenth of the requester's bookkeeping in profiles.
 *
 * @module
 */

/** What {@link RequestDeadlines} needs of an entry: a field where it keeps the entry's deadline. */
export interface Timed {
  /**
   * When the entry expires (`performance.now()` milliseconds), or -1 when it is not armed. Owned
   * by {@link RequestDeadlines}: start it at -1 and do not write it.
   */
  deadline: number;
}

interface Bucket<E> {
  readonly timeoutMs: number;
  /** Entries in arming order in `[head, tail)`, each with the deadline it was queued with in `at`. */
  entries: (E | undefined)[];
  at: number[];
  head: number;
  tail: number;
  /** Entries armed in this bucket (the queue also holds stale places of re-armed or disarmed ones). */
  live: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Queue places past which a bucket that empties gets fresh arrays, so that a burst's memory goes. */
const KEEP_PLACES = 1024;

/**
 * Calls `onExpire(entry)` once for each entry whose deadline passed without `disarm`.
 *
 * @example
 * ```ts
 * const deadlines = new RequestDeadlines<Pending>((pending) => failWithTimeout(pending));
 * const pending = { correlation: 7, deadline: -1 };
 * deadlines.arm(pending, 5000); // request 7 fails in 5 s...
 * deadlines.arm(pending, 5000); // ...counted again from now (an ack or a streamed reply arrived)
 * deadlines.disarm(pending, 5000); // ...or not at all: it was answered
 * ```
 */
export class RequestDeadlines<E extends Timed> {
  readonly #buckets = new Map<number, Bucket<E>>();
  /** The bucket used last: a bus's requests almost always share one timeout. */
  #last: Bucket<E> | undefined;
  readonly #onExpire: (entry: E) => void;

  constructor(onExpire: (entry: E) => void) {
    this.#onExpire = onExpire;
  }

  /**
   * Start (or restart) `entry`'s clock: it expires `timeoutMs` from now. An infinite timeout never
   * expires. An entry is always armed with the same `timeoutMs`.
   */
  arm(entry: E, timeoutMs: number): void {
    if (!Number.isFinite(timeoutMs)) return;
    const bucket = this.#bucket(timeoutMs, true) as Bucket<E>;
    if (entry.deadline < 0) bucket.live += 1;
    // Re-armed: its earlier place in the queue goes stale, as its deadline no longer matches.
    const deadline = performance.now() + timeoutMs;
    entry.deadline = deadline;
    // Places are reused rather than pushed and truncated: an array cut to length 0 gives its store
    // back, and the next request would allocate one again.
    const tail = bucket.tail;
    bucket.entries[tail] = entry;
    bucket.at[tail] = deadline;
    bucket.tail = tail + 1;
    if (bucket.tail - bucket.head > 2 * bucket.live + 32) compact(bucket);
    if (bucket.timer === undefined) this.#schedule(bucket, timeoutMs);
    else bucket.timer.ref(); // a pending request keeps the process alive, as its own timer did
  }

  /** Stop `entry`'s clock (armed with `timeoutMs`). Does nothing when it is not armed. */
  disarm(entry: E, timeoutMs: number): void {
    if (entry.deadline < 0) return;
    entry.deadline = -1;
    const bucket = this.#bucket(timeoutMs, false);
    if (bucket === undefined) return;
    bucket.live -= 1;
    if (bucket.live > 0) return;
    // Nothing left to time: every place in the queue is stale. The timer may stay (it is cheaper
    // than re-creating it for the next request) but must not keep the process alive.
    empty(bucket);
    bucket.timer?.unref();
  }

  /** Stop every clock and every timer. */
  clear(): void {
    for (const bucket of this.#buckets.values()) {
      if (bucket.timer !== undefined) clearTimeout(bucket.timer);
      for (let i = bucket.head; i < bucket.tail; i += 1) {
        const entry = bucket.entries[i];
        if (entry !== undefined) entry.deadline = -1;
      }
    }
    this.#buckets.clear();
    this.#last = undefined;
  }

  #bucket(timeoutMs: number, create: boolean): Bucket<E> | undefined {
    const last = this.#last;
    if (last !== undefined && last.timeoutMs === timeoutMs) return last;
    let bucket = this.#buckets.get(timeoutMs);
    if (bucket === undefined) {
      if (!create) return undefined;
      bucket = { timeoutMs, entries: [], at: [], head: 0, tail: 0, live: 0, timer: undefined };
      this.#buckets.set(timeoutMs, bucket);
    }
    this.#last = bucket;
    return bucket;
  }

  #schedule(bucket: Bucket<E>, delayMs: number): void {
    // At least 1 ms: libuv's loop clock is cached, so a timer can fire a little before
    // performance.now() reaches the deadline; the next round then catches it.
    bucket.timer = setTimeout(() => this.#expire(bucket), Math.max(1, Math.ceil(delayMs)));
  }

  #expire(bucket: Bucket<E>): void {
    bucket.timer = undefined;
    const now = performance.now();
    // Fields, not locals: onExpire may arm or disarm entries of this bucket.
    while (bucket.head < bucket.tail) {
      const i = bucket.head;
      const entry = bucket.entries[i];
      const deadline = bucket.at[i] as number;
      const current = entry !== undefined && entry.deadline === deadline; // not a stale place
      if (current && deadline > now) break;
      bucket.entries[i] = undefined;
      bucket.head = i + 1;
      if (current) {
        entry.deadline = -1;
        bucket.live -= 1;
        this.#onExpire(entry);
      }
    }
    if (bucket.live === 0) empty(bucket);
    if (bucket.timer !== undefined) return; // onExpire armed a new request, and with it the timer
    if (bucket.head < bucket.tail) {
      this.#schedule(bucket, (bucket.at[bucket.head] as number) - performance.now());
    } else if (this.#buckets.get(bucket.timeoutMs) === bucket) {
      // Empty: dropped, so that a bus that used many distinct timeouts does not keep them all.
      this.#buckets.delete(bucket.timeoutMs);
      if (this.#last === bucket) this.#last = undefined;
    }
  }
}

/** Forget every place of a bucket whose entries are all disarmed. */
function empty<E>(bucket: Bucket<E>): void {
  if (bucket.entries.length > KEEP_PLACES) {
    bucket.entries = [];
    bucket.at = [];
  } else {
    // Stale places must not keep finished requests (and their observers) from the collector.
    for (let i = bucket.head; i < bucket.tail; i += 1) bucket.entries[i] = undefined;
  }
  bucket.head = 0;
  bucket.tail = 0;
}

/** Keep only the current places of the queue, in order. */
function compact<E extends Timed>(bucket: Bucket<E>): void {
  const entries: E[] = [];
  const at: number[] = [];
  for (let i = bucket.head; i < bucket.tail; i += 1) {
    const entry = bucket.entries[i];
    const deadline = bucket.at[i] as number;
    if (entry !== undefined && entry.deadline === deadline) {
      entries.push(entry);
      at.push(deadline);
    }
  }
  bucket.entries = entries;
  bucket.at = at;
  bucket.head = 0;
  bucket.tail = entries.length;
}
