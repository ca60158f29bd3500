/**
 * A transport decorator that misbehaves on purpose: it drops, duplicates, reorders, delays and
 * corrupts the frames a member sends, so tests can prove that duplicate suppression, gap counting,
 * fragmentation and timeouts hold end to end.
 *
 * @module
 */
import type { Observable } from 'rxjs';
import type { ConnectionState, InboundFrame, Transport, TransportCapabilities } from '../transport.js';

/** Decides, per outgoing frame, whether a fault applies. `index` counts frames sent, from 0. */
export type FaultRule = (frame: Uint8Array, index: number) => boolean;

/** Which faults to inject. Every field is optional; absent means never. */
export type Faults = Readonly<
  Partial<{
    /** Frames silently not sent. */
    drop: FaultRule;
    /** Frames sent twice. */
    duplicate: FaultRule;
    /** Frames held back and sent after the next frame. */
    reorder: FaultRule;
    /** Frames sent after `delayMs` milliseconds. */
    delay: FaultRule;
    /** Delay used by `delay`, in milliseconds. Default 10. */
    delayMs: number;
    /** Frames whose first byte (the magic) is flipped before sending. */
    corrupt: FaultRule;
    /** Capabilities to report instead of the inner transport's (for example `reliable: false`). */
    capabilities: Partial<TransportCapabilities>;
  }>
>;

/**
 * A rule that fires for a random fraction of frames, from a seeded generator so failures repeat.
 *
 * @example
 * ```ts
 * const faults = { drop: randomly(0.1, 42) };
 * ```
 */
export function randomly(probability: number, seed = 1): FaultRule {
  let state = seed >>> 0 || 1;
  return () => {
    // xorshift32: small, seedable, good enough to spread faults.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000 < probability;
  };
}

/**
 * A rule that fires for the frames at the given indexes.
 *
 * @example
 * ```ts
 * const faults = { duplicate: atIndexes(0, 3) };
 * ```
 */
export function atIndexes(...indexes: number[]): FaultRule {
  const set = new Set(indexes);
  return (_frame, index) => set.has(index);
}

/**
 * Wraps a transport and injects faults into what it sends.
 *
 * @example
 * ```ts
 * registerTransport('faulty', (url, ctx) =>
 *   new FaultInjectingTransport(new MemoryTransport(new URL('memory:' + url.pathname), ctx), { drop: randomly(0.05) }));
 * ```
 */
export class FaultInjectingTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  readonly #inner: Transport;
  readonly #faults: Faults;
  #index = 0;
  #held: Uint8Array | undefined;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #counts = { dropped: 0, duplicated: 0, reordered: 0, delayed: 0, corrupted: 0 };

  constructor(inner: Transport, faults: Faults) {
    this.#inner = inner;
    this.#faults = faults;
    this.capabilities = { ...inner.capabilities, ...faults.capabilities };
  }

  get state$(): Observable<ConnectionState> {
    return this.#inner.state$;
  }

  get frames$(): Observable<InboundFrame> {
    return this.#inner.frames$;
  }

  open(): Promise<void> {
    return this.#inner.open();
  }

  send(frame: Uint8Array): void | Promise<void> {
    const index = this.#index;
    this.#index += 1;
    const f = this.#faults;
    if (f.drop?.(frame, index)) {
      this.#counts.dropped += 1;
      return undefined;
    }
    let out = frame;
    if (f.corrupt?.(frame, index)) {
      this.#counts.corrupted += 1;
      out = frame.slice();
      out[0] = (out[0] as number) ^ 0xff;
    }
    if (f.delay?.(frame, index)) {
      this.#counts.delayed += 1;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        void Promise.resolve(this.#inner.send(out)).catch(() => undefined);
      }, f.delayMs ?? 10);
      this.#timers.add(timer);
      return undefined;
    }
    if (f.reorder?.(frame, index) && this.#held === undefined) {
      this.#counts.reordered += 1;
      this.#held = out;
      // Released after the next frame, or shortly if none follows, so reordering never turns into loss.
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#releaseHeld();
      }, 1);
      this.#timers.add(timer);
      return undefined;
    }
    const result = this.#inner.send(out);
    if (f.duplicate?.(frame, index)) {
      this.#counts.duplicated += 1;
      void Promise.resolve(this.#inner.send(out)).catch(() => undefined);
    }
    this.#releaseHeld();
    return result;
  }

  #releaseHeld(): void {
    if (this.#held === undefined) return;
    const held = this.#held;
    this.#held = undefined;
    void Promise.resolve(this.#inner.send(held)).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#inner.close();
  }

  stats(): Readonly<Record<string, number>> {
    return {
      ...this.#inner.stats?.(),
      ...Object.fromEntries(Object.entries(this.#counts).map(([k, v]) => [`fault.${k}`, v])),
    };
  }
}
