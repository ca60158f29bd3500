/**
 * The writer side of a busway broadcast ring, over any `ArrayBuffer` (a shared mapping in
 * production, a plain buffer in tests). Platform-neutral: no system calls, only `Atomics`.
 *
 * @module
 */
import { type FrameWriter, FrameTooLargeError } from '@busway/core';
import { ClaimAbandonedError, RingMismatchError } from './errors.js';
import { takeSleepers } from './sleep-protocol.js';
import {
  isValidCapacity,
  READER_SLOT_SIZE,
  READER_SLOTS,
  RECORD_ALIGNMENT,
  READER_SLOTS_OFFSET,
  ReaderSlotOffset,
  RECORD_HEADER_SIZE,
  RecordOffset,
  RecordState,
  recordSize,
  recordStamp,
  RING_HEADER_SIZE,
  RING_MAGIC,
  RING_VERSION,
  RingOffset,
} from './ring-layout.js';

const TWO_32 = 0x1_0000_0000;
const BIG_TWO_32 = 1n << 32n;

/** Where the claim cursor starts when a ring is formatted; tests start near 2^32 to cross the wrap. */
export type RingFormatOptions = Readonly<
  Partial<{
    /** Byte position of the first record (mod 2^32, multiple of 16). Default: 0. */
    initialPosition: number;
    /** Sequence number of the first record (mod 2^32). Default: 0. */
    initialSequence: number;
    /** Pid recorded as the creator, for diagnostics. Default: `process.pid`. */
    creatorPid: number;
  }>
>;

/** Room claimed by {@link SharedRing.claim}, to be filled and committed. */
export interface RingClaim {
  /** Byte position of the record (mod 2^32). */
  readonly position: number;
  /** Sequence number of the record (mod 2^32). */
  readonly sequence: number;
  /** Payload length in bytes. */
  readonly length: number;
  /** Where the payload goes: one view, or two when it wraps around the end of the ring. */
  readonly parts: readonly Uint8Array[];
}

/**
 * Largest payload one record of a ring of `capacity` bytes carries: a quarter of the ring, so that
 * a reader a little behind does not lose a whole ring's worth on every large record. Larger
 * messages go through core's fragmentation.
 *
 * @example
 * ```ts
 * maxPayloadFor(16 * 1024 * 1024); // 4 MiB - 16
 * ```
 */
export function maxPayloadFor(capacity: number): number {
  return capacity / 4 - RECORD_HEADER_SIZE;
}

/**
 * A busway ring laid out in `buffer`: any number of writers (in any number of processes) publish
 * records; readers ({@link RingReader}) follow at their own pace.
 *
 * @example
 * ```ts
 * const ring = SharedRing.format(new ArrayBuffer(RING_HEADER_SIZE + 65536));
 * ring.publish(new TextEncoder().encode('hello'));
 * ```
 */
export class SharedRing {
  /** Size of the data area in bytes. */
  readonly capacity: number;
  /** `capacity - 1`: positions are reduced to indices with a mask. */
  readonly mask: number;
  /** Largest payload {@link publish} accepts. */
  readonly maxPayload: number;
  /** The ring's memory as 32-bit words, for `Atomics`. */
  readonly i32: Int32Array;
  /** The ring's memory as bytes. */
  readonly u8: Uint8Array;
  /** Tag written into this writer's records; readers with the same tag skip them. */
  readonly writerTag: number;
  /**
   * Called after a commit when readers announced they are going to sleep, with how many
   * announcements this writer took: the platform backend wakes them (futex: all; semaphore: that
   * many units). Never called while readers keep up, nor for announcements their readers withdrew.
   */
  onWake: ((sleepers: number) => void) | undefined = undefined;

  readonly #claim64: BigInt64Array;
  #claimedPosition = 0;
  #claimedSequence = 0;
  /**
   * Position of the slowest registered reader when last scanned: claims up to it plus the
   * capacity need no new scan (readers only move forward). -1: not scanned yet.
   */
  #slowest = -1;
  /** `size + 2^32` as a BigInt per record size seen: BigInt allocation dominated small publishes. */
  readonly #increments = new Map<number, bigint>();
  /**
   * The cursor as this writer last saw it (it moves it itself when alone): the next claim tries
   * its compare-and-swap against this value without loading and converting the cursor first, and
   * falls back to the value the failed swap returns. Saves most BigInt work per publish.
   */
  #expected = 0n;
  #expectedPosition = 0;
  #expectedSequence = 0;
  /**
   * This writer's latest run of back-to-back records (each claim's swap succeeded against the
   * cursor the previous one left, so nobody claimed in between): where it starts and how many
   * records it holds; it ends at the expected cursor. Lets this member's own reader step over
   * its own records without reading their headers.
   */
  #runStart = 0;
  #runStartSequence = 0;
  #runCount = 0;

  private constructor(
    readonly buffer: ArrayBuffer,
    /** The ring's name, for errors. */
    readonly name: string,
  ) {
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.#claim64 = new BigInt64Array(buffer, 0, RING_HEADER_SIZE / 8);
    this.capacity = this.i32[RingOffset.capacity >> 2] ?? 0;
    this.mask = this.capacity - 1;
    this.maxPayload = maxPayloadFor(this.capacity);
    // Tags start at 1 so that a zeroed header never matches a live writer.
    this.writerTag = (Atomics.add(this.i32, RingOffset.nextWriterTag >> 2, 1) + 1) | 0;
  }

  /**
   * Lay out a new ring over `buffer` (expected zero-filled, as fresh shared memory is): its data
   * area is everything after the header, and must be a power of two. The magic is stored last, so a
   * concurrent {@link attach} never sees a half-written header as valid.
   *
   * @example
   * ```ts
   * const ring = SharedRing.format(new ArrayBuffer(RING_HEADER_SIZE + 4096), { initialPosition: 2 ** 32 - 1024 });
   * ```
   */
  static format(buffer: ArrayBuffer, options: RingFormatOptions = {}): SharedRing {
    const capacity = buffer.byteLength - RING_HEADER_SIZE;
    if (!isValidCapacity(capacity))
      throw new RangeError(`ring data area of ${capacity} bytes is not a power of two in [4 KiB, 1 GiB]`);
    const position = options.initialPosition ?? 0;
    if (position % 16 !== 0 || position < 0 || position >= TWO_32)
      throw new RangeError('initialPosition must be a u32 multiple of 16');
    const sequence = (options.initialSequence ?? 0) >>> 0;
    const i32 = new Int32Array(buffer);
    i32[RingOffset.version >> 2] = RING_VERSION;
    i32[RingOffset.capacity >> 2] = capacity;
    i32[RingOffset.headerSize >> 2] = RING_HEADER_SIZE;
    i32[RingOffset.creatorPid >> 2] = options.creatorPid ?? process.pid;
    i32[RingOffset.claim >> 2] = position | 0;
    i32[(RingOffset.claim >> 2) + 1] = sequence | 0;
    // Record headers of lap "-1" must not look like the first record: clear the first one.
    new Uint8Array(buffer, RING_HEADER_SIZE + (position & (capacity - 1)), RECORD_HEADER_SIZE).fill(0);
    i32[(RING_HEADER_SIZE + (position & (capacity - 1)) + RecordOffset.sequence) >> 2] = (sequence + 1) | 0;
    Atomics.store(i32, RingOffset.magic >> 2, RING_MAGIC);
    return new SharedRing(buffer, 'ring');
  }

  /**
   * Join an existing ring in `buffer`, after checking its magic, version, header size and
   * capacity. Throws {@link RingMismatchError} (and writes nothing) when they are not busway's.
   *
   * @example
   * ```ts
   * const ring = SharedRing.attach(mapping.buffer, 'orders');
   * ```
   */
  static attach(buffer: ArrayBuffer, name = 'ring'): SharedRing {
    if (buffer.byteLength < RING_HEADER_SIZE)
      throw new RingMismatchError(name, `${buffer.byteLength} bytes is smaller than a ring header`);
    const view = new DataView(buffer);
    const magic = Atomics.load(new Int32Array(buffer, 0, 1), 0) >>> 0;
    if (magic !== RING_MAGIC)
      throw new RingMismatchError(name, `magic 0x${magic.toString(16)} is not 0x${RING_MAGIC.toString(16)}`);
    const version = view.getUint32(RingOffset.version, true);
    if (version !== RING_VERSION)
      throw new RingMismatchError(name, `layout version ${version}, this code reads ${RING_VERSION}`);
    const headerSize = view.getUint32(RingOffset.headerSize, true);
    if (headerSize !== RING_HEADER_SIZE)
      throw new RingMismatchError(name, `header size ${headerSize}, expected ${RING_HEADER_SIZE}`);
    const capacity = view.getUint32(RingOffset.capacity, true);
    if (!isValidCapacity(capacity) || capacity + RING_HEADER_SIZE !== buffer.byteLength) {
      throw new RingMismatchError(name, `capacity ${capacity} does not match a mapping of ${buffer.byteLength} bytes`);
    }
    // Writers and readers index record headers at the cursor's position: a position that is not a
    // multiple of 16 puts a header across the end of the data area (a RangeError after claiming).
    const position = view.getUint32(RingOffset.claim, true);
    if (position % RECORD_ALIGNMENT !== 0) throw misaligned(name, position);
    return new SharedRing(buffer, name);
  }

  /**
   * Append one record and return its sequence number. Never waits: in a lossy ring the oldest
   * records are overwritten and readers that had not read them count them as lost.
   * Throws `FrameTooLargeError` above {@link maxPayload}, {@link ClaimAbandonedError} when a reader
   * gave up on this writer between claim and commit.
   *
   * @example
   * ```ts
   * const seq = ring.publish(frame);
   * ```
   */
  publish(payload: Uint8Array): number {
    const length = payload.length;
    if (length > this.maxPayload) throw new FrameTooLargeError(length, this.maxPayload);
    const sequence = this.#claim(length);
    this.#copyIn(payload, (this.#claimedPosition + RECORD_HEADER_SIZE) & this.mask);
    this.#commit(this.#claimedPosition, sequence, length);
    return sequence;
  }

  /**
   * Like {@link publish}, but never overwrites a record a registered reader (see
   * {@link RingReader} `register`) has not read yet: returns -1, having claimed nothing, when the
   * record does not fit in front of the slowest reader. The caller waits and retries (bounded).
   *
   * @example
   * ```ts
   * if (ring.tryPublish(frame) < 0) await retryLater();
   * ```
   */
  tryPublish(payload: Uint8Array): number {
    const length = payload.length;
    if (length > this.maxPayload) throw new FrameTooLargeError(length, this.maxPayload);
    if (!this.#claimSpace(recordSize(length), true)) return -1;
    const sequence = this.#stampHeader(length);
    this.#copyIn(payload, (this.#claimedPosition + RECORD_HEADER_SIZE) & this.mask);
    this.#commit(this.#claimedPosition, sequence, length);
    return sequence;
  }

  /**
   * Like {@link publish}, for a record of `length` bytes that `writer` writes in place, straight
   * into the ring (see `Transport.sendInPlace`): nothing is encoded elsewhere and copied. A
   * record that would straddle the end of the ring is written aside and copied in two parts.
   * When the writer throws, the claimed record is marked abandoned (readers step over it at
   * once) and the error is rethrown.
   *
   * @example
   * ```ts
   * ring.publishWith(5, { writeFrame: (target, at) => target.set(bytes, at) });
   * ```
   */
  publishWith(length: number, writer: FrameWriter): number {
    if (length > this.maxPayload) throw new FrameTooLargeError(length, this.maxPayload);
    const sequence = this.#claim(length);
    this.#writeIn(writer, length);
    this.#commit(this.#claimedPosition, sequence, length);
    return sequence;
  }

  /**
   * {@link tryPublish} for a record `writer` writes in place, as {@link publishWith}: -1, having
   * claimed and written nothing, when it does not fit in front of the slowest registered reader.
   *
   * @example
   * ```ts
   * if (ring.tryPublishWith(frame.length, { writeFrame: (t, at) => t.set(frame, at) }) < 0) await retryLater();
   * ```
   */
  tryPublishWith(length: number, writer: FrameWriter): number {
    if (length > this.maxPayload) throw new FrameTooLargeError(length, this.maxPayload);
    if (!this.#claimSpace(recordSize(length), true)) return -1;
    const sequence = this.#stampHeader(length);
    this.#writeIn(writer, length);
    this.#commit(this.#claimedPosition, sequence, length);
    return sequence;
  }

  /** Let `writer` fill the record just claimed; on failure the record is abandoned, not left hanging. */
  #writeIn(writer: FrameWriter, length: number): void {
    const position = this.#claimedPosition;
    const start = (position + RECORD_HEADER_SIZE) & this.mask;
    try {
      if (start + length <= this.capacity) {
        writer.writeFrame(this.u8, RING_HEADER_SIZE + start);
      } else {
        // Once a lap at most: not worth a writer that knows about the wrap.
        const aside = new Uint8Array(length);
        writer.writeFrame(aside, 0);
        this.#copyIn(aside, start);
      }
    } catch (err) {
      // Left Claimed, the record would hold every reader up until their abandon timeout.
      const word = (RING_HEADER_SIZE + (position & this.mask)) >> 2;
      const claimed = (RecordState.Claimed << 30) | length;
      if (Atomics.compareExchange(this.i32, word, claimed, (RecordState.Abandoned << 30) | length) === claimed) {
        Atomics.add(this.i32, RingOffset.abandoned >> 2, 1);
      }
      if (Atomics.load(this.i32, RingOffset.sleepers >> 2) !== 0) this.#wakeSleepers();
      throw err;
    }
  }

  /**
   * The registered reader farthest behind the claim cursor: its pid and how many bytes behind it
   * is; undefined when no reader is registered.
   *
   * @example
   * ```ts
   * const slowest = ring.slowestReader();
   * if (slowest) console.log(`pid ${slowest.pid} is ${slowest.behind} bytes behind`);
   * ```
   */
  slowestReader(): { readonly pid: number; readonly behind: number } | undefined {
    const [position] = this.loadClaim();
    let result: { pid: number; behind: number } | undefined;
    for (let slot = 0; slot < READER_SLOTS; slot++) {
      const word = (READER_SLOTS_OFFSET + slot * READER_SLOT_SIZE) >> 2;
      const pid = Atomics.load(this.i32, word + (ReaderSlotOffset.owner >> 2));
      if (pid === 0) continue;
      const behind = (position - Atomics.load(this.i32, word + (ReaderSlotOffset.position >> 2))) >>> 0;
      if (result === undefined || behind > result.behind) result = { pid, behind };
    }
    return result;
  }

  /**
   * True when a registered reader has not read up to `position` yet (its slot holds an earlier
   * position, less than a ring's capacity before it). Readers that are past it, or so far behind
   * that they were lapped anyway, do not count.
   *
   * @example
   * ```ts
   * const [end] = ring.loadClaim();
   * if (ring.readerBefore(end)) console.log('someone is still reading');
   * ```
   */
  readerBefore(position: number): boolean {
    for (let slot = 0; slot < READER_SLOTS; slot++) {
      const word = (READER_SLOTS_OFFSET + slot * READER_SLOT_SIZE) >> 2;
      if (Atomics.load(this.i32, word + (ReaderSlotOffset.owner >> 2)) === 0) continue;
      const behind = (position - Atomics.load(this.i32, word + (ReaderSlotOffset.position >> 2))) >>> 0;
      if (behind !== 0 && behind <= this.capacity) return true;
    }
    return false;
  }

  /**
   * Free the slots of readers whose process is gone (killed readers never release theirs), so that
   * waiting writers stop waiting for them. Returns how many slots were freed.
   *
   * @example
   * ```ts
   * ring.reclaimDeadReaders((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } });
   * ```
   */
  reclaimDeadReaders(isAlive: (pid: number) => boolean): number {
    let freed = 0;
    for (let slot = 0; slot < READER_SLOTS; slot++) {
      const word = (READER_SLOTS_OFFSET + slot * READER_SLOT_SIZE + ReaderSlotOffset.owner) >> 2;
      const pid = Atomics.load(this.i32, word);
      if (pid !== 0 && !isAlive(pid) && Atomics.compareExchange(this.i32, word, pid, 0) === pid) freed++;
    }
    return freed;
  }

  /**
   * First half of a publish, for writers that fill the ring in place: claim room for `length`
   * bytes and stamp the header. Fill {@link RingClaim.parts} then call {@link commit}. Until then
   * readers wait for this record (up to their `abandonAfterMs`).
   *
   * @example
   * ```ts
   * const claim = ring.claim(5);
   * claim.parts[0].set(bytes.subarray(0, claim.parts[0].length));
   * ring.commit(claim);
   * ```
   */
  claim(length: number): RingClaim {
    if (length > this.maxPayload) throw new FrameTooLargeError(length, this.maxPayload);
    const sequence = this.#claim(length);
    const position = this.#claimedPosition;
    const start = RING_HEADER_SIZE + ((position + RECORD_HEADER_SIZE) & this.mask);
    const first = Math.min(length, RING_HEADER_SIZE + this.capacity - start);
    const parts = [this.u8.subarray(start, start + first)];
    if (first < length) parts.push(this.u8.subarray(RING_HEADER_SIZE, RING_HEADER_SIZE + length - first));
    return { position, sequence, length, parts };
  }

  /**
   * Second half of a publish: mark the claimed record complete and wake sleeping readers.
   * Throws {@link ClaimAbandonedError} when a reader already gave up on it.
   *
   * @example
   * ```ts
   * ring.commit(ring.claim(0));
   * ```
   */
  commit(claim: RingClaim): void {
    this.#commit(claim.position, claim.sequence, claim.length);
  }

  /** Claims room and writes the header; the sequence number goes in last, see the layout doc. */
  #claim(length: number): number {
    this.#claimSpace(recordSize(length), false);
    return this.#stampHeader(length);
  }

  #stampHeader(length: number): number {
    const position = this.#claimedPosition;
    const sequence = this.#claimedSequence;
    const word = (RING_HEADER_SIZE + (position & this.mask)) >> 2;
    const i32 = this.i32;
    // Plain stores, then the sequence with Atomics.store (a release): readers that see the
    // sequence see the rest. Atomics stores on a koffi view cost ~5x a plain one.
    i32[word] = (RecordState.Claimed << 30) | length;
    i32[word + (RecordOffset.stamp >> 2)] = recordStamp(position, sequence) | 0;
    i32[word + (RecordOffset.writerTag >> 2)] = this.writerTag;
    Atomics.store(i32, word + (RecordOffset.sequence >> 2), sequence | 0);
    return sequence;
  }

  #commit(position: number, sequence: number, length: number): void {
    const word = (RING_HEADER_SIZE + (position & this.mask)) >> 2;
    const claimed = (RecordState.Claimed << 30) | length;
    // Compare-and-swap, not a store: a reader may have declared this claim abandoned meanwhile,
    // and then the record must stay dead rather than appear late.
    if (Atomics.compareExchange(this.i32, word, claimed, (RecordState.Committed << 30) | length) !== claimed) {
      throw new ClaimAbandonedError(sequence);
    }
    if (Atomics.load(this.i32, RingOffset.sleepers >> 2) !== 0) this.#wakeSleepers();
  }

  /**
   * The claim cursor: position (low) and sequence (high) of the next record, read consistently.
   * Throws {@link RingMismatchError} when something other than a busway writer left the position
   * off the 16-byte grid (the ring is corrupt: no record can be read or written there).
   *
   * @example
   * ```ts
   * const [position, sequence] = ring.loadClaim();
   * ```
   */
  loadClaim(): [position: number, sequence: number] {
    const value = Atomics.load(this.#claim64, RingOffset.claim >> 3);
    const position = Number(BigInt.asUintN(32, value));
    // Readers move to this position: a misaligned one would index past the end of the ring.
    if (position % RECORD_ALIGNMENT !== 0) throw misaligned(this.name, position);
    return [position, Number(BigInt.asUintN(32, value >> 32n))];
  }

  /**
   * For this writer's own reader: when the record at (`position`, `sequence`) lies in this
   * writer's latest run of back-to-back records, the position after the run (its sequence is
   * {@link ownRunEndSequence}); otherwise -1. Every record up to there is this writer's own, so a
   * reader that skips its own records may step over them without reading their headers.
   *
   * @example
   * ```ts
   * const end = ring.ownRunEnd(position, sequence);
   * if (end >= 0) [position, sequence] = [end, ring.ownRunEndSequence];
   * ```
   */
  ownRunEnd(position: number, sequence: number): number {
    const count = this.#runCount;
    if (count === 0) return -1;
    const into = (sequence - this.#runStartSequence) >>> 0;
    if (into >= count) return -1;
    const end = this.#expectedPosition;
    const start = this.#runStart;
    if ((position - start) >>> 0 >= (end - start) >>> 0) return -1;
    return end;
  }

  /** Sequence number after this writer's latest run of back-to-back records; see {@link ownRunEnd}. */
  get ownRunEndSequence(): number {
    return this.#expectedSequence;
  }

  /**
   * Number of claims that readers declared abandoned since the ring was created.
   *
   * @example
   * ```ts
   * if (ring.abandonedClaims() > 0) console.warn('a writer died mid-write');
   * ```
   */
  abandonedClaims(): number {
    return Atomics.load(this.i32, RingOffset.abandoned >> 2);
  }

  /**
   * One 64-bit compare-and-swap claims position and sequence together, in the same order. With
   * `bounded`, gives up (false) rather than claim past the slowest registered reader.
   */
  #claimSpace(size: number, bounded: boolean): boolean {
    const claim64 = this.#claim64;
    const at = RingOffset.claim >> 3;
    // Adding `size + 2^32` adds the size to the position and 1 to the sequence; when the position
    // wraps past 2^32 its carry already is the sequence increment, so 2^32 less is added.
    let increment = this.#increments.get(size);
    if (increment === undefined) {
      increment = BigInt(size) + BIG_TWO_32;
      if (this.#increments.size < 1024) this.#increments.set(size, increment);
    }
    let old = this.#expected;
    let position = this.#expectedPosition;
    let sequence = this.#expectedSequence;
    let backToBack = this.#runCount > 0;
    for (;;) {
      if (bounded && !this.#roomInFrontOfReaders(position, size)) {
        // Our guess may be stale: decide on the real cursor before giving up.
        const current = Atomics.load(claim64, at);
        if (current === old) return false;
        backToBack = false;
        old = current;
        position = Number(BigInt.asUintN(32, old));
        sequence = Number(BigInt.asUintN(32, old >> 32n));
        if (position % RECORD_ALIGNMENT !== 0) throw misaligned(this.name, position);
        continue;
      }
      const next = BigInt.asIntN(64, position + size >= TWO_32 ? old + increment - BIG_TWO_32 : old + increment);
      const seen = Atomics.compareExchange(claim64, at, old, next);
      if (seen === old) {
        this.#claimedPosition = position;
        this.#claimedSequence = sequence;
        if (backToBack && ((position - this.#runStart) >>> 0) + size <= this.capacity) this.#runCount++;
        else {
          this.#runStart = position;
          this.#runStartSequence = sequence;
          this.#runCount = 1;
        }
        this.#expected = next;
        this.#expectedPosition = (position + size) >>> 0;
        this.#expectedSequence = (sequence + 1) >>> 0;
        return true;
      }
      // Another writer moved the cursor (or our guess was never right): retry from what it holds.
      backToBack = false;
      old = seen;
      position = Number(BigInt.asUintN(32, old));
      sequence = Number(BigInt.asUintN(32, old >> 32n));
      // Checked before claiming: a claim at a misaligned position could never be stamped, and
      // would hold every reader up until abandonAfterMs.
      if (position % RECORD_ALIGNMENT !== 0) throw misaligned(this.name, position);
    }
  }

  /** True when [position, position + size) overwrites nothing a registered reader still needs. */
  #roomInFrontOfReaders(position: number, size: number): boolean {
    const capacity = this.capacity;
    if (this.#slowest >= 0 && (position + size - this.#slowest) >>> 0 <= capacity) return true;
    let slowest = position;
    let farthest = 0;
    for (let slot = 0; slot < READER_SLOTS; slot++) {
      const word = (READER_SLOTS_OFFSET + slot * READER_SLOT_SIZE) >> 2;
      if (Atomics.load(this.i32, word + (ReaderSlotOffset.owner >> 2)) === 0) continue;
      const at = Atomics.load(this.i32, word + (ReaderSlotOffset.position >> 2)) >>> 0;
      const behind = (position - at) >>> 0;
      // A reader "ahead" of the cursor (it just read up to a claim we have not seen) is not behind.
      if (behind <= capacity && behind > farthest) {
        farthest = behind;
        slowest = at;
      }
    }
    this.#slowest = slowest;
    return farthest + size <= capacity;
  }

  /** Payload bytes may run past the end of the data area; the rest continues at its start. */
  #copyIn(payload: Uint8Array, start: number): void {
    const first = Math.min(payload.length, this.capacity - start);
    this.u8.set(first === payload.length ? payload : payload.subarray(0, first), RING_HEADER_SIZE + start);
    if (first < payload.length) this.u8.set(payload.subarray(first), RING_HEADER_SIZE);
  }

  /**
   * Take every announcement at once (so a stream of publishes to a sleeping reader rings once),
   * move the doorbell, and let the backend wake that many sleepers. Readers announce and withdraw
   * through `RingSleeper` (`sleep-protocol.ts`).
   */
  #wakeSleepers(): void {
    // Announcements and generation change together (see sleep-protocol.ts): a reader that
    // withdraws later can tell that its announcement was taken and rung for.
    const sleepers = takeSleepers(this.#claim64); // the header as 64-bit words: the pair is one
    if (sleepers === 0) return; // another writer took them, or their readers withdrew
    this.onWake?.(sleepers);
  }
}

/** The claim cursor holds a position off the 16-byte grid: not something a busway writer leaves. */
function misaligned(name: string, position: number): RingMismatchError {
  return new RingMismatchError(
    name,
    `its claim cursor is at byte ${position}, not a multiple of ${RECORD_ALIGNMENT} (the ring is corrupt)`,
  );
}
