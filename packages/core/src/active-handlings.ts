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
}

/**
 * Entries keyed by (requester, correlation), with every entry of one requester at hand when that
 * member leaves. Two number-keyed levels rather than one map keyed by a `"requester:correlation"`
 * string: that string was built and hashed several times per request on the handler's side of
 * every round trip, and finding one requester's entries meant scanning all of them.
 *
 * @example
 * ```ts
 * const active = new ActiveHandlings<{ requester: number; correlation: number }>();
 * active.add({ requester: 7, correlation: 1 });
 * active.get(7, 1); // the entry
 * active.removeRequester(7); // [the entry], now gone
 * ```
 */
export class ActiveHandlings<E extends RequestKey> {
  readonly #byRequester = new Map<number, Map<number, E>>();

  /** The entry for this request, if any. */
  get(requester: number, correlation: number): E | undefined {
    return this.#byRequester.get(requester)?.get(correlation);
  }

  /** Is `entry` the one registered for its request (not finished, not replaced)? */
  holds(entry: E): boolean {
    return this.get(entry.requester, entry.correlation) === entry;
  }

  /** Register `entry` for its request, replacing any earlier one. */
  add(entry: E): void {
    let requests = this.#byRequester.get(entry.requester);
    if (requests === undefined) {
      if (this.#byRequester.size >= MAX_IDLE_REQUESTERS) this.#dropIdle();
      requests = new Map();
      this.#byRequester.set(entry.requester, requests);
    }
    requests.set(entry.correlation, entry);
  }

  /** Remove and return the entry for this request, if any. */
  remove(requester: number, correlation: number): E | undefined {
    const requests = this.#byRequester.get(requester);
    const entry = requests?.get(correlation);
    if (requests === undefined || entry === undefined) return undefined;
    // An emptied map stays for the requester's next request (one asking in a loop would otherwise
    // cost a new Map each time); add() sweeps empty ones once there are many.
    requests.delete(correlation);
    return entry;
  }

  /** Remove and return every entry of `requester` (it left). */
  removeRequester(requester: number): E[] {
    const requests = this.#byRequester.get(requester);
    if (requests === undefined) return [];
    this.#byRequester.delete(requester);
    return [...requests.values()];
  }

  /** Remove and return every entry. */
  removeAll(): E[] {
    const all: E[] = [];
    for (const requests of this.#byRequester.values()) for (const entry of requests.values()) all.push(entry);
    this.#byRequester.clear();
    return all;
  }

  #dropIdle(): void {
    for (const [requester, requests] of this.#byRequester) {
      if (requests.size === 0) this.#byRequester.delete(requester);
    }
  }
}

/** Requesters remembered before those with nothing in progress are forgotten. */
const MAX_IDLE_REQUESTERS = 4096;
