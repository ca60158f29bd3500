/**
 * Duplicate suppression and loss accounting for frames identified by (origin, sequence).
 *
 * @module
 */
import { ConfigurationError } from './errors.js';

/** Options of a {@link DedupWindow}. */
export type DedupWindowOptions = Readonly<
  Partial<{
    /**
     * How many sequence numbers behind the newest one are remembered per origin; a power of two
     * from 32 up, so that slots stay put when the u32 sequence wraps. Default: 1024.
     */
    windowSize: number;
    /** How many origins are tracked; past it the least recently seen one is forgotten. Default: 4096. */
    maxOrigins: number;
  }>
>;

/** Counters of a {@link DedupWindow}, since it was created. */
export interface DedupStats {
  /** Frames rejected because they had already been accepted. */
  readonly duplicates: number;
  /** Sequence numbers that slid out of the window without ever arriving: lost frames. */
  readonly gaps: number;
  /** Frames rejected because they arrived after their slot had slid out of the window (already counted as gaps). */
  readonly late: number;
  /** Origins currently tracked. */
  readonly origins: number;
  /** Origins forgotten to stay within `maxOrigins`. */
  readonly evicted: number;
}

/** Per-origin state; also a node of the recency list, so reordering it allocates nothing. */
interface OriginWindow {
  origin: number;
  /** Newest sequence accepted. */
  top: number;
  /**
   * First sequence seen from this origin while its earlier sequences may still be in the window.
   * Frames sent before we joined are not our losses: slots before it are not counted as gaps.
   */
  floor: number;
  joining: boolean;
  /** One bit per slot; slot of sequence s is `s & mask`. */
  readonly bits: Uint32Array;
  newer: OriginWindow | undefined;
  older: OriginWindow | undefined;
}

/**
 * Decides, for every received frame, whether to deliver it: a bitmap window per origin over the
 * u32 sequence (compared with serial-number arithmetic, so it wraps at 2^32), bounded in memory
 * by `windowSize` bits per origin and `maxOrigins` origins. Accepting a frame allocates nothing;
 * only a first frame from a new origin does, and not even then once `maxOrigins` is reached (the
 * evicted origin's bitmap is reused).
 *
 * @example
 * ```ts
 * const dedup = new DedupWindow({ windowSize: 1024 });
 * transport.frames$.subscribe(({ bytes }) => {
 *   const env = decodeEnvelope(bytes);
 *   if (dedup.accept(env.origin, env.sequence)) deliver(env);
 * });
 * console.log(dedup.stats.gaps, 'frames lost');
 * ```
 */
export class DedupWindow {
  readonly #windowSize: number;
  readonly #mask: number;
  readonly #maxOrigins: number;
  readonly #origins = new Map<number, OriginWindow>();
  #newest: OriginWindow | undefined;
  #oldest: OriginWindow | undefined;
  #duplicates = 0;
  #gaps = 0;
  #late = 0;
  #evicted = 0;

  constructor(options: DedupWindowOptions = {}) {
    const windowSize = options.windowSize ?? 1024;
    const maxOrigins = options.maxOrigins ?? 4096;
    // A power of two divides 2^32, so a sequence keeps its slot across the wrap.
    if (
      !Number.isInteger(windowSize) ||
      windowSize < 32 ||
      windowSize > 2 ** 30 ||
      (windowSize & (windowSize - 1)) !== 0
    ) {
      throw new ConfigurationError(`windowSize must be a power of two from 32 to 2^30, got ${windowSize}`);
    }
    if (!Number.isInteger(maxOrigins) || maxOrigins < 1) {
      throw new ConfigurationError(`maxOrigins must be a positive integer, got ${maxOrigins}`);
    }
    this.#windowSize = windowSize;
    this.#mask = windowSize - 1;
    this.#maxOrigins = maxOrigins;
  }

  /** Counters since creation; a fresh snapshot on every read. */
  get stats(): DedupStats {
    return {
      duplicates: this.#duplicates,
      gaps: this.#gaps,
      late: this.#late,
      origins: this.#origins.size,
      evicted: this.#evicted,
    };
  }

  /**
   * Record a frame. Returns `true` when it should be delivered: the first time this
   * (origin, sequence) is seen within the window. Returns `false` for a duplicate or for a frame
   * older than the window.
   *
   * @example
   * ```ts
   * dedup.accept(42, 7); // true
   * dedup.accept(42, 7); // false: duplicate
   * ```
   */
  accept(origin: number, sequence: number): boolean {
    const seq = sequence >>> 0;
    // The origin seen last is the most recent one: no map lookup for a run of frames from it.
    let w = this.#newest;
    if (w === undefined || w.origin !== origin) {
      w = this.#origins.get(origin);
      if (w === undefined) {
        this.#track(origin, seq);
        return true;
      }
      this.#touch(w);
    }
    // Serial-number arithmetic: the signed 32-bit distance from the newest accepted sequence.
    const ahead = (seq - w.top) | 0;
    if (ahead === 1 && !w.joining) {
      // The next in order, the common case: one slot enters the window and one leaves it.
      const slot = seq & this.#mask;
      const word = slot >>> 5;
      const bit = 1 << (slot & 31);
      const v = w.bits[word] as number;
      // The slot held seq - windowSize, which leaves the window: unseen if its bit is clear, a
      // loss. Either way the slot is seq's now, and seen.
      if ((v & bit) === 0) {
        this.#gaps += 1;
        w.bits[word] = v | bit;
      }
      w.top = seq;
      return true;
    }
    if (ahead > 0) {
      this.#advance(w, seq, ahead);
      return true;
    }
    if (-ahead >= this.#windowSize || ahead === -0x8000_0000) {
      this.#late += 1;
      return false;
    }
    const slot = seq & this.#mask;
    const word = slot >>> 5;
    const bit = 1 << (slot & 31);
    const bits = w.bits;
    if (((bits[word] as number) & bit) !== 0) {
      this.#duplicates += 1;
      return false;
    }
    bits[word] = (bits[word] as number) | bit;
    return true;
  }

  /**
   * Stop tracking an origin, for example when it left the bus. Its next frame starts afresh.
   *
   * @example
   * ```ts
   * dedup.forget(env.origin); // on a Leave frame
   * ```
   */
  forget(origin: number): void {
    const w = this.#origins.get(origin);
    if (w === undefined) return;
    this.#origins.delete(origin);
    this.#unlink(w);
  }

  /** Slide the window forward to `seq`, counting the slots that leave it unfilled as gaps. */
  #advance(w: OriginWindow, seq: number, ahead: number): void {
    const bits = w.bits;
    const size = this.#windowSize;
    const steps = ahead < size ? ahead : size;
    let gaps = ahead - steps; // sequences jumped over without ever entering the window
    for (let k = 1; k <= steps; k += 1) {
      const slot = (w.top + k) & this.#mask;
      const word = slot >>> 5;
      const bit = 1 << (slot & 31);
      const v = bits[word] as number;
      if ((v & bit) === 0) {
        // The slot held sequence top + k - size, which is leaving the window unseen; it is a loss
        // unless it predates the first frame we saw from this origin.
        if (!w.joining || ((w.top + k - size - w.floor) | 0) >= 0) gaps += 1;
      } else {
        bits[word] = v & ~bit;
      }
    }
    this.#gaps += gaps;
    w.top = seq;
    const slot = seq & this.#mask;
    bits[slot >>> 5] = (bits[slot >>> 5] as number) | (1 << (slot & 31));
    // Once the whole window is past the first sequence, nothing before it can be confused with a loss.
    if (w.joining && ((seq - w.floor) | 0) >= size) w.joining = false;
  }

  #track(origin: number, seq: number): void {
    let w: OriginWindow;
    if (this.#origins.size >= this.#maxOrigins) {
      const victim = this.#oldest as OriginWindow;
      this.#origins.delete(victim.origin);
      this.#unlink(victim);
      this.#evicted += 1;
      victim.bits.fill(0);
      w = victim;
      w.origin = origin;
    } else {
      w = {
        origin,
        top: seq,
        floor: seq,
        joining: true,
        bits: new Uint32Array(this.#windowSize >>> 5),
        newer: undefined,
        older: undefined,
      };
    }
    w.top = seq;
    w.floor = seq;
    w.joining = true;
    const slot = seq & this.#mask;
    w.bits[slot >>> 5] = 1 << (slot & 31);
    this.#origins.set(origin, w);
    this.#pushNewest(w);
  }

  #touch(w: OriginWindow): void {
    this.#unlink(w);
    this.#pushNewest(w);
  }

  #pushNewest(w: OriginWindow): void {
    w.older = this.#newest;
    w.newer = undefined;
    if (this.#newest !== undefined) this.#newest.newer = w;
    this.#newest = w;
    if (this.#oldest === undefined) this.#oldest = w;
  }

  #unlink(w: OriginWindow): void {
    if (w.newer !== undefined) w.newer.older = w.older;
    else this.#newest = w.older;
    if (w.older !== undefined) w.older.newer = w.newer;
    else this.#oldest = w.newer;
    w.newer = undefined;
    w.older = undefined;
  }
}
