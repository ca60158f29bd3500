/**
 * One opening per key per process, shared and counted: every transport of one ring name in a
 * process uses one mapping and one wait, and the last to let go closes it. Both platform backends
 * keep their mappings in one of these.
 *
 * @module
 */

interface Entry<T> {
  readonly opening: Promise<T>;
  refs: number;
}

/** A reference to a shared opening; `release()` is true for the call that dropped the last one. */
export interface OpeningReference<T> {
  readonly value: T;
  /** Drop this reference (once; later calls do nothing). True when it was the last: close the value then. */
  release(): boolean;
}

/**
 * Shares what `open` makes for a key between its users until the last one releases it. A failed
 * opening is forgotten, so the next user tries again.
 *
 * @example
 * ```ts
 * const mappings = new RefCountedOpenings<Mapping>();
 * const ref = await mappings.acquire('/busway-1000-orders:16777216', () => mapRing('orders'));
 * // …use ref.value…
 * if (ref.release()) ref.value.close();
 * ```
 */
export class RefCountedOpenings<T> {
  readonly #entries = new Map<string, Entry<T>>();

  /** The shared value for `key`, opened with `open` if nobody holds it. Rejects as `open` does. */
  async acquire(key: string, open: () => Promise<T>): Promise<OpeningReference<T>> {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      const created: Entry<T> = { opening: open(), refs: 0 };
      entry = created;
      this.#entries.set(key, created);
      created.opening.catch(() => {
        if (this.#entries.get(key) === created) this.#entries.delete(key);
      });
    }
    const held = entry;
    const value = await held.opening;
    held.refs += 1;
    let released = false;
    return {
      value,
      release: () => {
        if (released) return false;
        released = true;
        if (--held.refs > 0) return false;
        if (this.#entries.get(key) === held) this.#entries.delete(key);
        return true;
      },
    };
  }
}
