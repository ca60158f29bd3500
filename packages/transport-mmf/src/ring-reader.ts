/**
 * The reader side of a busway broadcast ring. Platform-neutral: while records are there it only
 * loads and copies memory, so a reader that keeps up makes no system call per record.
 *
 * @module
 */
import {
  LENGTH_MASK,
  READER_SLOT_SIZE,
  READER_SLOTS,
  READER_SLOTS_OFFSET,
  ReaderSlotOffset,
  RECORD_ALIGNMENT,
  RECORD_HEADER_SIZE,
  RecordOffset,
  RecordState,
  recordSize,
  recordStamp,
  RING_HEADER_SIZE,
  RingOffset,
} from './ring-layout.js';
import type { SharedRing } from './shared-ring.js';

/** Records up to this size are read in runs (one copy for many records). */
const BATCH_RECORD_MAX = 4096;
/** Bytes of ring copied at most per run. */
const RUN_BYTES = 64 * 1024;
/** Records per run at most. */
const MAX_RUN = 1024;

/** Options of a {@link RingReader}. */
export type RingReaderOptions = Readonly<
  Partial<{
    /**
     * How long a claimed but uncommitted record may block the reader before it is declared
     * abandoned (its writer died or stalled) and skipped, in milliseconds. Default: 500.
     */
    abandonAfterMs: number;
    /** Clock in milliseconds, injectable for tests. Default: `performance.now`. */
    now: () => number;
    /** Records with this writer tag are skipped: a member does not read its own. Default: none (0). */
    skipWriterTag: number;
    /**
     * Take a reader slot in the ring header and publish this reader's position there after every
     * poll, so that writers in `overflow: 'wait'` mode do not overwrite what it has not read.
     * Release it with {@link RingReader.close}. Default: false.
     */
    register: boolean;
    /** Pid recorded in the slot (writers free slots of dead pids). Default: `process.pid`. */
    pid: number;
  }>
>;

/**
 * What {@link RingReader.poll} stopped on: `idle` (nothing more to read), `pending` (a writer is
 * mid-write; poll again soon), `more` (the budget ran out; poll again).
 */
export type PollResult = 'idle' | 'pending' | 'more';

/** Counters of one reader. */
export interface RingReaderStats {
  /** Records handed to the callback. */
  readonly delivered: number;
  /** Records overwritten before this reader got to them (it fell more than a ring behind). */
  readonly lost: number;
  /** Records skipped because their writer never committed them. */
  readonly abandoned: number;
}

/**
 * Follows a {@link SharedRing} from the position at which it was created (a member sees what is
 * published after it joined). Delivers each committed record exactly once, in ring order, as a
 * view of a private copy that is valid until the callback returns. It never delivers a torn
 * record: only committed records are copied, and a copy is discarded when the ring moved more
 * than its capacity during the copy.
 *
 * @example
 * ```ts
 * const reader = new RingReader(ring, { skipWriterTag: ring.writerTag });
 * reader.poll((bytes) => console.log(bytes.length));
 * ```
 */
export class RingReader {
  #position: number;
  #sequence: number;
  #scratch = new Uint8Array(1024);
  /** Copy of the current run of small records, and per record: offset in it, length, writer tag. */
  readonly #run = new Uint8Array(RUN_BYTES);
  readonly #runMeta = new Int32Array(3 * MAX_RUN);
  /**
   * Delivery views into {@link #run}, one per 16-byte record offset, reused while the length at
   * that offset stays the same: with steady message sizes, records land on the same offsets run
   * after run, and allocating a view per record cost a third of the reader's time per record.
   */
  readonly #runViews: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(RUN_BYTES / RECORD_ALIGNMENT);
  #scratch32 = new Int32Array(this.#scratch.buffer);
  #views: Uint8Array[] = [];
  #delivered = 0;
  #lost = 0;
  #abandoned = 0;
  /** When the reader first found the current record unfinished, or -1. */
  #stuckSince = -1;
  #stuckPosition = -1;
  /** The claim cursor when the reader got stuck: every claim below it is at least that old. */
  #stuckClaimPosition = 0;
  #stuckClaimSequence = 0;
  readonly #abandonAfter: number;
  readonly #now: () => number;
  readonly #skipTag: number;
  /** Int32 index of this reader's slot position word, or -1 when not registered. */
  #slotWord = -1;

  constructor(
    readonly ring: SharedRing,
    options: RingReaderOptions = {},
  ) {
    [this.#position, this.#sequence] = ring.loadClaim();
    this.#abandonAfter = options.abandonAfterMs ?? 500;
    this.#now = options.now ?? (() => performance.now());
    this.#skipTag = options.skipWriterTag ?? 0;
    if (options.register === true) this.#register(options.pid ?? process.pid);
  }

  /** True when this reader holds a slot (writers that wait for readers wait for it). */
  get registered(): boolean {
    return this.#slotWord >= 0;
  }

  /**
   * Give the reader slot back. Idempotent; the reader may still poll, unregistered.
   *
   * @example
   * ```ts
   * reader.close();
   * ```
   */
  close(): void {
    if (this.#slotWord < 0) return;
    Atomics.store(this.ring.i32, this.#slotWord - (ReaderSlotOffset.position >> 2), 0);
    this.#slotWord = -1;
  }

  #register(pid: number): void {
    const i32 = this.ring.i32;
    for (let slot = 0; slot < READER_SLOTS; slot++) {
      const base = (READER_SLOTS_OFFSET + slot * READER_SLOT_SIZE) >> 2;
      if (Atomics.load(i32, base + (ReaderSlotOffset.owner >> 2)) !== 0) continue;
      if (Atomics.compareExchange(i32, base + (ReaderSlotOffset.owner >> 2), 0, pid | 0) !== 0) continue;
      // Until this store a writer may read the previous owner's position: it then waits more
      // than needed, never less.
      Atomics.store(i32, base + (ReaderSlotOffset.position >> 2), this.#position | 0);
      this.#slotWord = base + (ReaderSlotOffset.position >> 2);
      return;
    }
    // All slots taken: this reader is not protected by waiting writers; it still counts losses.
  }

  /**
   * Sequence number of the next record this reader expects: it changes whenever the reader moves
   * (records read, own ones included, skipped or lost), without allocating like {@link cursor}.
   */
  get sequence(): number {
    return this.#sequence;
  }

  /** Position and sequence of the next record this reader expects. */
  get cursor(): { readonly position: number; readonly sequence: number } {
    return { position: this.#position, sequence: this.#sequence };
  }

  /**
   * Counters since this reader was created.
   *
   * @example
   * ```ts
   * const { lost } = reader.stats();
   * ```
   */
  stats(): RingReaderStats {
    return { delivered: this.#delivered, lost: this.#lost, abandoned: this.#abandoned };
  }

  /**
   * True when a record is ready or in progress at the reader's position, or the ring moved on:
   * the check a reader repeats after announcing sleep and before sleeping.
   *
   * @example
   * ```ts
   * if (!reader.hasWork()) await sleep();
   * ```
   */
  hasWork(): boolean {
    const word = (RING_HEADER_SIZE + (this.#position & this.ring.mask)) >> 2;
    if (Atomics.load(this.ring.i32, word + (RecordOffset.sequence >> 2)) >>> 0 === this.#sequence) return true;
    return Atomics.load(this.ring.i32, (RingOffset.claim >> 2) + 1) >>> 0 !== this.#sequence;
  }

  /**
   * Deliver up to `budget` records to `deliver`. The bytes are a view of a buffer reused by the
   * next record: copy what you keep. If `deliver` throws, the record counts as delivered and the
   * error propagates.
   *
   * @example
   * ```ts
   * while (reader.poll(onFrame, 1024) === 'more');
   * ```
   */
  poll(deliver: (bytes: Uint8Array) => void, budget = 1024): PollResult {
    try {
      return this.#poll(deliver, budget);
    } finally {
      // One store per batch, not per record: writers waiting for us see progress soon enough.
      if (this.#slotWord >= 0) {
        Atomics.store(this.ring.i32, this.#slotWord, this.#position | 0);
        Atomics.store(this.ring.i32, this.#slotWord + 1, this.#sequence | 0);
      }
    }
  }

  #poll(deliver: (bytes: Uint8Array) => void, budget: number): PollResult {
    const ring = this.ring;
    const i32 = ring.i32;
    const mask = ring.mask;
    let handled = 0;
    // A member's reader skips the member's own records: those it wrote back to back it steps
    // over without reading (a publisher's reader would otherwise read every header it wrote).
    const ownTag = this.#skipTag !== 0 && this.#skipTag === ring.writerTag;
    while (handled < budget) {
      const position = this.#position;
      const sequence = this.#sequence;
      if (ownTag) {
        const end = ring.ownRunEnd(position, sequence);
        if (end >= 0) {
          this.#position = end;
          this.#sequence = ring.ownRunEndSequence;
          this.#stuckSince = -1;
          handled++;
          continue;
        }
      }
      const word = (RING_HEADER_SIZE + (position & mask)) >> 2;
      // The sequence first (the writer stores it last): once it matches, the state word read next
      // belongs to this record, not to the one a lap earlier at the same position. (Reading the
      // state first could pair an old "committed" with the new header: a torn delivery.)
      // Atomics loads are ~5x dearer than plain ones on a koffi view: the sequence and the state
      // are the acquire points; the stamp and tag are plain loads ordered after them.
      if (
        Atomics.load(i32, word + (RecordOffset.sequence >> 2)) >>> 0 !== sequence ||
        (i32[word + (RecordOffset.stamp >> 2)] ?? 0) >>> 0 !== recordStamp(position, sequence)
      ) {
        const outcome = this.#withoutHeader();
        if (outcome === undefined) continue;
        return outcome;
      }
      const lengthState = Atomics.load(i32, word);
      const length = lengthState & LENGTH_MASK;
      if (length > ring.maxPayload) {
        const outcome = this.#withoutHeader();
        if (outcome === undefined) continue;
        return outcome;
      }
      const state = lengthState >>> 30;
      const next = (position + recordSize(length)) >>> 0;
      if (state === RecordState.Committed) {
        this.#stuckSince = -1;
        if (length <= BATCH_RECORD_MAX) {
          handled += this.#deliverRun(position, sequence, word, lengthState, budget - handled, deliver);
          continue;
        }
        const tag = i32[word + (RecordOffset.writerTag >> 2)];
        this.#position = next;
        this.#sequence = (sequence + 1) >>> 0;
        handled++;
        if (tag === this.#skipTag) continue;
        const bytes = this.#copyOut((position + RECORD_HEADER_SIZE) & mask, length);
        // A writer a lap ahead may have overwritten the record while it was copied: then the
        // copy is garbage and the reader has fallen behind; count and skip, never deliver.
        if (this.#lapped(position, sequence)) continue;
        this.#delivered++;
        deliver(bytes);
        continue;
      }
      if (state === RecordState.Abandoned) {
        this.#stuckSince = -1;
        this.#position = next;
        this.#sequence = (sequence + 1) >>> 0;
        this.#abandoned++;
        continue;
      }
      // Claimed: the writer is copying. Wait, up to the abandon timeout.
      if (!this.#stuckTooLong(position)) return 'pending';
      if (this.#lapped(position, sequence)) continue;
      const abandoned = (RecordState.Abandoned << 30) | length;
      if (Atomics.compareExchange(i32, word, lengthState, abandoned) === lengthState) {
        Atomics.add(i32, RingOffset.abandoned >> 2, 1);
      }
      // Either we abandoned it, another reader did, or the writer committed just in time: the
      // next iteration reads the final state.
    }
    return 'more';
  }

  /**
   * Small records are read in runs: the committed records that follow each other from `position`
   * are copied out with one memcpy (two if the run wraps), checked against lapping once, then
   * delivered one by one as views of the copy. Per record that leaves two `Atomics` loads of its
   * header and a view; the copy and the lap check are paid once per run. Returns how many records
   * the run covered (own ones included).
   */
  #deliverRun(
    position: number,
    sequence: number,
    word: number,
    lengthState: number,
    budget: number,
    deliver: (bytes: Uint8Array) => void,
  ): number {
    const ring = this.ring;
    const i32 = ring.i32;
    const mask = ring.mask;
    const meta = this.#runMeta;
    const limit = Math.min(MAX_RUN, budget);
    let count = 0;
    let at = position;
    let seq = sequence;
    let w = word;
    let state = lengthState;
    const skipTag = this.#skipTag;
    let foreign = false;
    for (;;) {
      const length = state & LENGTH_MASK;
      const tag = i32[w + (RecordOffset.writerTag >> 2)] ?? 0;
      meta[count * 3] = (at - position) >>> 0;
      meta[count * 3 + 1] = length;
      meta[count * 3 + 2] = tag;
      if (tag !== skipTag) foreign = true;
      count++;
      at = (at + recordSize(length)) >>> 0;
      seq = (seq + 1) >>> 0;
      if (count >= limit) break;
      w = (RING_HEADER_SIZE + (at & mask)) >> 2;
      // Same order as poll(): the sequence, then the state.
      if (Atomics.load(i32, w + (RecordOffset.sequence >> 2)) >>> 0 !== seq) break;
      if ((i32[w + (RecordOffset.stamp >> 2)] ?? 0) >>> 0 !== recordStamp(at, seq)) break;
      state = Atomics.load(i32, w);
      const next = state & LENGTH_MASK;
      if (state >>> 30 !== RecordState.Committed || next > BATCH_RECORD_MAX) break;
      if (((at - position) >>> 0) + recordSize(next) > RUN_BYTES) break;
    }
    if (!foreign) {
      // Only this member's own records (a publisher reading past what it wrote): nothing to
      // deliver, so nothing to copy; the headers read above were checked like any others.
      if (this.#lapped(position, sequence)) return count;
      this.#position = at;
      this.#sequence = seq;
      return count;
    }
    const span = (at - position) >>> 0;
    const run = this.#run;
    const start = position & mask;
    const first = Math.min(span, ring.capacity - start);
    run.set(ring.u8.subarray(RING_HEADER_SIZE + start, RING_HEADER_SIZE + start + first), 0);
    if (first < span) run.set(ring.u8.subarray(RING_HEADER_SIZE, RING_HEADER_SIZE + span - first), first);
    // A writer a lap ahead may have overwritten the run while it was copied: then the copy is
    // garbage and the reader has fallen behind; count and skip, never deliver.
    if (this.#lapped(position, sequence)) return count;
    this.#position = at;
    this.#sequence = seq;
    let failed = false;
    let failure: unknown;
    const views = this.#runViews;
    for (let k = 0; k < count; k++) {
      if (meta[k * 3 + 2] === skipTag) continue;
      const at = meta[k * 3] ?? 0;
      const length = meta[k * 3 + 1] ?? 0;
      let view = views[at >> 4];
      if (view === undefined || view.length !== length) {
        view = run.subarray(at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + length);
        views[at >> 4] = view;
      }
      this.#delivered++;
      try {
        deliver(view);
      } catch (err) {
        // The rest of the run is delivered anyway; the first error propagates afterwards.
        if (!failed) failure = err;
        failed = true;
      }
    }
    if (failed) throw failure;
    return count;
  }

  /**
   * No valid header at the reader's position: nothing published yet, a claim whose writer has not
   * stamped the header yet (or died before), or the reader was lapped. Returns undefined to go on
   * reading.
   */
  #withoutHeader(): PollResult | undefined {
    const [, claimSequence] = this.ring.loadClaim();
    const behind = (claimSequence - this.#sequence) >>> 0;
    if (behind === 0) {
      this.#stuckSince = -1;
      return 'idle';
    }
    if (this.#lapped(this.#position, this.#sequence)) return undefined;
    if (!this.#stuckTooLong(this.#position)) return 'pending';
    // The claim at our position is older than the abandon timeout and still unstamped: its
    // writer died between claiming and writing the header, so its length is unknown. The next
    // record starts at the first later position holding a header stamped for it; claims below
    // the cursor seen when we got stuck are old enough to have been stamped if alive.
    const span = (this.#stuckClaimPosition - this.#position) >>> 0;
    const maxBehind = (this.#stuckClaimSequence - this.#sequence) >>> 0;
    const i32 = this.ring.i32;
    for (let offset = RECORD_ALIGNMENT; offset < span; offset += RECORD_ALIGNMENT) {
      const candidate = (this.#position + offset) >>> 0;
      const word = (RING_HEADER_SIZE + (candidate & this.ring.mask)) >> 2;
      const sequence = Atomics.load(i32, word + (RecordOffset.sequence >> 2)) >>> 0;
      const skipped = (sequence - this.#sequence) >>> 0;
      if (skipped === 0 || skipped > maxBehind) continue;
      if (Atomics.load(i32, word + (RecordOffset.stamp >> 2)) >>> 0 !== recordStamp(candidate, sequence)) continue;
      this.#skipAbandoned(candidate, sequence, skipped);
      return undefined;
    }
    this.#skipAbandoned(this.#stuckClaimPosition, this.#stuckClaimSequence, maxBehind);
    return undefined;
  }

  #skipAbandoned(position: number, sequence: number, count: number): void {
    this.#position = position;
    this.#sequence = sequence;
    this.#abandoned += count;
    this.#stuckSince = -1;
    Atomics.add(this.ring.i32, RingOffset.abandoned >> 2, count);
  }

  /**
   * True (after jumping to the claim cursor and counting records from `sequence` on as lost) when
   * writers claimed more than a ring's capacity past `position`, so its bytes may be overwritten,
   * including when they claimed more than 2^32 bytes past it (see the record count below).
   */
  #lapped(position: number, sequence: number): boolean {
    // Positions are kept mod 2^32 (the cursor's high word is the sequence, not more position
    // bits), so a reader more than 2^32 bytes behind can see a small byte distance. The record
    // count tells: the records between a reader that was not lapped and the cursor are at least
    // 16 bytes each, so more records than distance / 16 means the distance wrapped. The sequence
    // is loaded before the position: the cursor only grows, so a claim landing between the two
    // loads makes the count smaller, never larger, and cannot fake a lap. Two i32 loads answer
    // the common "no" without touching a BigInt.
    const i32 = this.ring.i32;
    const sequenceNow = Atomics.load(i32, (RingOffset.claim >> 2) + 1) >>> 0;
    const distance = (Atomics.load(i32, RingOffset.claim >> 2) - position) >>> 0;
    if (distance <= this.ring.capacity && ((sequenceNow - sequence) >>> 0) * RECORD_HEADER_SIZE <= distance)
      return false;
    const [claimPosition, claimSequence] = this.ring.loadClaim();
    this.#lost += (claimSequence - sequence) >>> 0;
    this.#position = claimPosition;
    this.#sequence = claimSequence;
    this.#stuckSince = -1;
    return true;
  }

  #stuckTooLong(position: number): boolean {
    const now = this.#now();
    if (this.#stuckSince < 0 || this.#stuckPosition !== position) {
      this.#stuckSince = now;
      this.#stuckPosition = position;
      [this.#stuckClaimPosition, this.#stuckClaimSequence] = this.ring.loadClaim();
      return false;
    }
    return now - this.#stuckSince >= this.#abandonAfter;
  }

  #copyOut(start: number, length: number): Uint8Array {
    if (this.#scratch.length < length) {
      this.#scratch = new Uint8Array((Math.max(length, this.#scratch.length * 2) + 7) & ~3);
      this.#scratch32 = new Int32Array(this.#scratch.buffer);
      this.#views = [];
    }
    const scratch = this.#scratch;
    const first = Math.min(length, this.ring.capacity - start);
    if (length <= 512) {
      // Small records: a word loop beats set(subarray()) (a view allocation and a native call).
      // The payload starts 16-byte aligned and the record is padded to 16, so whole words stay
      // inside the record; the first part ends at the (aligned) end of the ring.
      const from = (RING_HEADER_SIZE + start) >> 2;
      const words = (first + 3) >> 2;
      const src = this.ring.i32;
      const dst = this.#scratch32;
      for (let i = 0; i < words; i++) dst[i] = src[from + i] as number;
      if (first < length) {
        const rest = (length - first + 3) >> 2;
        const at = first >> 2; // first is a multiple of 16 here: the ring end is aligned
        for (let i = 0; i < rest; i++) dst[at + i] = src[(RING_HEADER_SIZE >> 2) + i] as number;
      }
    } else {
      const u8 = this.ring.u8;
      const from = RING_HEADER_SIZE + start;
      scratch.set(u8.subarray(from, from + first), 0);
      if (first < length) scratch.set(u8.subarray(RING_HEADER_SIZE, RING_HEADER_SIZE + length - first), first);
    }
    if (length >= 1024) return scratch.subarray(0, length);
    // One view per length, reused: delivering must not allocate per record.
    return (this.#views[length] ??= scratch.subarray(0, length));
  }
}
