/**
 * Anti-replay bookkeeping for authenticated datagrams, in the manner of IPsec's sliding window
 * (RFC 4303 §3.4.3): per sender, the highest counter accepted and a bitmap of the `size` counters
 * below it. Core's `DedupWindow` does the same for envelope sequences *after* this check; this one
 * runs on the authenticator's own per-datagram counter, which also covers control datagrams that
 * carry no envelope sequence, and it is only ever updated by datagrams whose MAC verified.
 *
 * @module
 */

interface SenderWindow {
  top: number;
  readonly bits: Uint32Array;
  lastSeen: number;
}

/**
 * @example
 * ```ts
 * const window = new ReplayWindow(1024, 4096);
 * window.accept(42, 1, Date.now()); // true
 * window.accept(42, 1, Date.now()); // false: replay
 * ```
 */
export class ReplayWindow {
  readonly #size: number;
  readonly #mask: number;
  readonly #maxSenders: number;
  readonly #senders = new Map<number, SenderWindow>();
  /** Senders forgotten to stay within the bound. */
  evicted = 0;

  /**
   * @param size - counters remembered below the highest one; a power of two from 32 up.
   * @param maxSenders - senders tracked; past it the one seen least recently is forgotten.
   */
  constructor(size: number, maxSenders: number) {
    this.#size = size;
    this.#mask = size - 1;
    this.#maxSenders = maxSenders;
  }

  /**
   * `true` the first time `(sender, counter)` is offered within the window; `false` for a repeat
   * or a counter that already slid out of it.
   */
  accept(sender: number, counter: number, now: number): boolean {
    const c = counter >>> 0;
    let w = this.#senders.get(sender);
    if (w === undefined) {
      this.#evictIfFull();
      w = { top: c, bits: new Uint32Array(this.#size >>> 5), lastSeen: now };
      this.#senders.set(sender, w);
      this.#set(w, c);
      return true;
    }
    // Map order is insertion order: re-inserting keeps the least recently seen sender first.
    this.#senders.delete(sender);
    this.#senders.set(sender, w);
    w.lastSeen = now;
    const ahead = (c - w.top) | 0;
    if (ahead > 0) {
      const steps = Math.min(ahead, this.#size);
      for (let k = 1; k <= steps; k += 1) this.#clear(w, (w.top + k) >>> 0);
      w.top = c;
      this.#set(w, c);
      return true;
    }
    if (-ahead >= this.#size || ahead === -0x8000_0000) return false;
    const slot = c & this.#mask;
    if (((w.bits[slot >>> 5] as number) & (1 << (slot & 31))) !== 0) return false;
    this.#set(w, c);
    return true;
  }

  /** Forget senders not seen since `before` (their datagrams are stale by timestamp anyway). */
  prune(before: number): void {
    for (const [sender, w] of this.#senders) {
      if (w.lastSeen >= before) break;
      this.#senders.delete(sender);
    }
  }

  #evictIfFull(): void {
    if (this.#senders.size < this.#maxSenders) return;
    const oldest = this.#senders.keys().next();
    if (oldest.done !== true) {
      this.#senders.delete(oldest.value);
      this.evicted += 1;
    }
  }

  #set(w: SenderWindow, c: number): void {
    const slot = c & this.#mask;
    w.bits[slot >>> 5] = (w.bits[slot >>> 5] as number) | (1 << (slot & 31));
  }

  #clear(w: SenderWindow, c: number): void {
    const slot = c & this.#mask;
    w.bits[slot >>> 5] = (w.bits[slot >>> 5] as number) & ~(1 << (slot & 31));
  }
}
