/**
 * {@link ActiveHandlings}: the requests a member's handlers are working on, by requester and
 * correlation id.
 *
 * @module
 */

/** What {@link ActiveHandlings} needs of an entry: whose request it is. */
export interface RequestKey {
  /** The requester's member id (the request's origin). */
  readonly requester: number;
  /** The requester's correlation id for the request. */
  readonly correlation: number;
  /**
   * Whether the entry is the one registered for its request: kept by {@link ActiveHandlings}, so
   * that `holds` is a field read. Start it `false` and do not write it.
   */
  held: boolean;
}

/**
 * Entries keyed by (requester, correlation), with every entry of one requester at hand when that
 * member leaves. Two number-keyed levels rather than one map keyed by a `"requester:correlation"`
 * string: that string was built and hashed several times per request on the handler's side of
 * every round trip, and finding one requester's entries meant scanning all of them. Whether an
 * entry is still registered is a field of the entry (`held`), read without a lookup.
 *
 * @example
 * ```ts
 * const active = new ActiveHandlings<{ requester: number; correlation: number; held: boolean }>();
 * active.add({ requester: 7, correlation: 1, held: false });
 * active.get(7, 1); // the entry
 * active.removeRequester(7); // [the entry], now gone
 * ```
 */
export class ActiveHandlings<E extends RequestKey> {
  readonly #byRequester = new Map<number, Requests<E>>();
  /**
   * The requester looked up last and its record: a handler's requests come in runs from one
   * member, and each one looks its requester up twice (claim, then release).
   */
  #lastRequester: number | undefined;
  #lastRequests: Requests<E> | undefined;

  /** The entry for this request, if any. */
  get(requester: number, correlation: number): E | undefined {
    const requests = this.#requests(requester);
    if (requests === undefined) return undefined;
    const one = requests.one;
    return one !== undefined && one.correlation === correlation ? one : requests.more?.get(correlation);
  }

  /** Is `entry` the one registered for its request (not finished, not replaced)? */
  holds(entry: E): boolean {
    return entry.held;
  }

  /** Register `entry` for its request, replacing any earlier one. */
  add(entry: E): void {
    const earlier = this.get(entry.requester, entry.correlation);
    if (earlier !== undefined) this.release(earlier);
    this.claim(entry);
  }

  /** Register `entry` unless an entry is registered for its request already; true if it was. */
  claim(entry: E): boolean {
    const requests = this.#requestsOrNew(entry.requester);
    const correlation = entry.correlation;
    const one = requests.one;
    if (one === undefined) {
      if (requests.more?.has(correlation) === true) return false;
      requests.one = entry;
    } else {
      if (one.correlation === correlation) return false;
      requests.more ??= new Map();
      if (requests.more.has(correlation)) return false;
      requests.more.set(correlation, entry);
    }
    entry.held = true;
    return true;
  }

  /** Remove and return the entry for this request, if any. */
  remove(requester: number, correlation: number): E | undefined {
    const entry = this.get(requester, correlation);
    if (entry !== undefined) this.release(entry);
    return entry;
  }

  /** Remove `entry` if it is the one registered for its request (as {@link holds} tells). */
  release(entry: E): void {
    if (!entry.held) return;
    entry.held = false;
    const requests = this.#requests(entry.requester);
    if (requests === undefined) return;
    // The record stays for the requester's next request (one asking in a loop would otherwise
    // cost a new one each time); claim() sweeps empty ones once there are many.
    if (requests.one === entry) requests.one = undefined;
    else requests.more?.delete(entry.correlation);
  }

  /** Remove and return every entry of `requester` (it left). */
  removeRequester(requester: number): E[] {
    const requests = this.#byRequester.get(requester);
    if (requests === undefined) return [];
    this.#byRequester.delete(requester);
    this.#forgetLast();
    const entries: E[] = [];
    collect(requests, entries);
    return entries;
  }

  /** Remove and return every entry. */
  removeAll(): E[] {
    const all: E[] = [];
    for (const requests of this.#byRequester.values()) collect(requests, all);
    this.#byRequester.clear();
    this.#forgetLast();
    return all;
  }

  #requests(requester: number): Requests<E> | undefined {
    if (requester === this.#lastRequester) return this.#lastRequests;
    const requests = this.#byRequester.get(requester);
    if (requests !== undefined) {
      this.#lastRequester = requester;
      this.#lastRequests = requests;
    }
    return requests;
  }

  #requestsOrNew(requester: number): Requests<E> {
    let requests = this.#requests(requester);
    if (requests === undefined) {
      if (this.#byRequester.size >= MAX_IDLE_REQUESTERS) this.#dropIdle();
      requests = { one: undefined, more: undefined };
      this.#byRequester.set(requester, requests);
      this.#lastRequester = requester;
      this.#lastRequests = requests;
    }
    return requests;
  }

  #forgetLast(): void {
    this.#lastRequester = undefined;
    this.#lastRequests = undefined;
  }

  #dropIdle(): void {
    for (const [requester, requests] of this.#byRequester) {
      if (requests.one === undefined && (requests.more?.size ?? 0) === 0) this.#byRequester.delete(requester);
    }
    this.#forgetLast();
  }
}

/**
 * One requester's entries: the first in `one`, others beside it in `more`. A requester asking in a
 * loop has one request at a time; keeping it in a field rather than a map saves a map set and a
 * delete per request (a delete that empties a map shrinks it, which reallocates its table).
 */
interface Requests<E> {
  one: E | undefined;
  more: Map<number, E> | undefined;
}

/** Take every entry of `requests` into `out`, clearing `held`. */
function collect<E extends RequestKey>(requests: Requests<E>, out: E[]): void {
  if (requests.one !== undefined) out.push(requests.one);
  if (requests.more !== undefined) for (const entry of requests.more.values()) out.push(entry);
  for (const entry of out) entry.held = false;
}

/** Requesters remembered before those with nothing in progress are forgotten. */
const MAX_IDLE_REQUESTERS = 4096;
