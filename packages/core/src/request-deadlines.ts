/**
 * Deadlines of pending requests, with one timer per distinct timeout rather than one per request.
 *
 * A `setTimeout` plus `clearTimeout` per request was a tenth of an in-process round trip in
 * profiles. Requests of one bus almost always share a timeout, and deadlines armed with the same
 * timeout expire in the order they were armed, so each timeout value keeps its keys in a `Map`
 * (insertion order = deadline order) and one timer for the earliest. Settling a request only
 * deletes its key; the timer, if it fires for a deadline that is gone, moves on to the next one.
 *
 * @module
 */

interface Bucket<K> {
  readonly timeoutMs: number;
  /** Key → deadline (`performance.now()` milliseconds), oldest first. */
  readonly deadlines: Map<K, number>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Calls `onExpire(key)` once for each key whose deadline passed without `disarm`.
 *
 * @example
 * ```ts
 * const deadlines = new RequestDeadlines<number>((correlation) => failWithTimeout(correlation));
 * deadlines.arm(7, 5000); // request 7 fails in 5 s...
 * deadlines.arm(7, 5000); // ...counted again from now (an ack or a streamed reply arrived)
 * deadlines.disarm(7, 5000); // ...or not at all: it was answered
 * ```
 */
export class RequestDeadlines<K> {
  readonly #buckets = new Map<number, Bucket<K>>();
  readonly #onExpire: (key: K) => void;

  constructor(onExpire: (key: K) => void) {
    this.#onExpire = onExpire;
  }

  /** Start (or restart) `key`'s clock: it expires `timeoutMs` from now. An infinite timeout never expires. */
  arm(key: K, timeoutMs: number): void {
    if (!Number.isFinite(timeoutMs)) return;
    let bucket = this.#buckets.get(timeoutMs);
    if (bucket === undefined) {
      bucket = { timeoutMs, deadlines: new Map(), timer: undefined };
      this.#buckets.set(timeoutMs, bucket);
    }
    // Delete first so that a restarted key moves to the end, keeping the map in deadline order.
    bucket.deadlines.delete(key);
    bucket.deadlines.set(key, performance.now() + timeoutMs);
    if (bucket.timer === undefined) this.#schedule(bucket, timeoutMs);
    else bucket.timer.ref(); // a pending request keeps the process alive, as its own timer did
  }

  /** Stop `key`'s clock (armed with `timeoutMs`). Does nothing when it is not armed. */
  disarm(key: K, timeoutMs: number): void {
    const bucket = this.#buckets.get(timeoutMs);
    if (bucket === undefined || !bucket.deadlines.delete(key)) return;
    // Nothing left to time: the timer may stay (it is cheaper than re-creating it for the next
    // request) but must not keep the process alive.
    if (bucket.deadlines.size === 0) bucket.timer?.unref();
  }

  /** Stop every clock and every timer. */
  clear(): void {
    for (const bucket of this.#buckets.values()) {
      if (bucket.timer !== undefined) clearTimeout(bucket.timer);
    }
    this.#buckets.clear();
  }

  #schedule(bucket: Bucket<K>, delayMs: number): void {
    // At least 1 ms: libuv's loop clock is cached, so a timer can fire a little before
    // performance.now() reaches the deadline; the next round then catches it.
    bucket.timer = setTimeout(() => this.#expire(bucket), Math.max(1, Math.ceil(delayMs)));
  }

  #expire(bucket: Bucket<K>): void {
    bucket.timer = undefined;
    const now = performance.now();
    for (const [key, deadline] of bucket.deadlines) {
      if (deadline > now) break;
      bucket.deadlines.delete(key);
      this.#onExpire(key);
    }
    if (bucket.timer !== undefined) return; // onExpire armed a new request, and with it the timer
    const next = bucket.deadlines.values().next();
    if (next.done !== true) {
      this.#schedule(bucket, next.value - performance.now());
    } else if (this.#buckets.get(bucket.timeoutMs) === bucket) {
      // Empty: dropped, so that a bus that used many distinct timeouts does not keep them all.
      this.#buckets.delete(bucket.timeoutMs);
    }
  }
}
