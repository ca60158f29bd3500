/**
 * {@link PendingRequests}: a member's requests waiting for their replies, by correlation id.
 *
 * @module
 */

/** What {@link PendingRequests} needs of an entry: its correlation id, from `nextCorrelation()`. */
export interface Correlated {
  readonly correlation: number;
}

/** Slots of a new or emptied table; a power of two. */
const INITIAL_SLOTS = 16;
/** Slots past which an emptied table starts over small, so that a burst's memory goes. */
const KEEP_SLOTS = 1024;

/**
 * Entries by correlation id, in a table indexed by the id's low bits. The bus picks the ids, so it
 * picks only ids whose slot is free: a lookup is one array read and a compare, adding and removing
 * one store, with no hashing and no collision. A `Map` here cost a set, a get and a delete per
 * request, the delete the dearest (a map emptied by it shrinks, which reallocates its table).
 *
 * Ids still increase (modulo 2^32, skipping 0) as they did: only ids whose slot is taken by a
 * request still waiting are skipped, so a late reply to a finished request never meets a new one
 * under its id before 2^32 more requests. The table doubles when half full.
 *
 * @example
 * ```ts
 * const pending = new PendingRequests<{ correlation: number; topic: string }>();
 * const entry = { correlation: pending.nextCorrelation(), topic: 'price.quote' };
 * pending.add(entry);
 * pending.get(entry.correlation); // entry
 * pending.delete(entry);
 * ```
 */
export class PendingRequests<E extends Correlated> {
  #slots: (E | undefined)[] = new Array<E | undefined>(INITIAL_SLOTS).fill(undefined);
  #mask = INITIAL_SLOTS - 1;
  #size = 0;
  /** The id given out last. */
  #correlation: number;

  /** `after`: the id to count on from (tests start near 2^32 to see the wrap). */
  constructor(after = 0) {
    this.#correlation = after;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** A new correlation id (never 0) for the next entry to add; one call per entry. */
  nextCorrelation(): number {
    if (this.#size >= (this.#mask + 1) >> 1) this.#grow();
    let correlation = this.#correlation;
    do correlation = (correlation + 1) >>> 0 || 1;
    while (this.#slots[correlation & this.#mask] !== undefined);
    this.#correlation = correlation;
    return correlation;
  }

  /** Add `entry`, whose id came from the last `nextCorrelation()`. */
  add(entry: E): void {
    const slot = entry.correlation & this.#mask;
    if (this.#slots[slot] !== undefined) throw new Error(`correlation ${entry.correlation} is not free`);
    this.#slots[slot] = entry;
    this.#size += 1;
  }

  /** The entry waiting under `correlation`, if any. */
  get(correlation: number): E | undefined {
    const entry = this.#slots[correlation & this.#mask];
    return entry !== undefined && entry.correlation === correlation ? entry : undefined;
  }

  /** Remove `entry`; true if it was there. */
  delete(entry: E): boolean {
    const slot = entry.correlation & this.#mask;
    if (this.#slots[slot] !== entry) return false;
    this.#slots[slot] = undefined;
    this.#size -= 1;
    if (this.#size === 0 && this.#mask + 1 > KEEP_SLOTS) {
      this.#slots = new Array<E | undefined>(INITIAL_SLOTS).fill(undefined);
      this.#mask = INITIAL_SLOTS - 1;
    }
    return true;
  }

  /** Every entry, oldest first (a copy: the table may change while the caller goes through it). */
  values(): E[] {
    const out: E[] = [];
    for (const entry of this.#slots) if (entry !== undefined) out.push(entry);
    // Ids increase modulo 2^32: the furthest back from the last one given out is the oldest.
    const last = this.#correlation;
    return out.sort((a, b) => ((last - b.correlation) >>> 0) - ((last - a.correlation) >>> 0));
  }

  #grow(): void {
    const slots = new Array<E | undefined>((this.#mask + 1) * 2).fill(undefined);
    const mask = slots.length - 1;
    // Ids in distinct slots of the smaller table are in distinct slots of the larger one.
    for (const entry of this.#slots) if (entry !== undefined) slots[entry.correlation & mask] = entry;
    this.#slots = slots;
    this.#mask = mask;
  }
}
