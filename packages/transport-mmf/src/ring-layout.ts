/**
 * The byte layout of a busway shared-memory ring, documented in `docs/mmf-ring.md`. Everything
 * that both sides of the mapping must agree on lives here and nowhere else.
 *
 * @module
 */

/** First word of a ring: ASCII "BWRG" read as a little-endian u32. */
export const RING_MAGIC = 0x47525742;
/** The layout version this code writes and the only one it reads. */
export const RING_VERSION = 1;
/**
 * Bytes before the data area: control fields (each group on its own 64-byte cache line) in the
 * first 256 bytes, then the reader slots, one cache line each, filling a page.
 */
export const RING_HEADER_SIZE = 4096;
/** Where the reader slots start. */
export const READER_SLOTS_OFFSET = 256;
/** Bytes per reader slot: a cache line, so readers publishing their positions do not collide. */
export const READER_SLOT_SIZE = 64;
/** Number of reader slots: readers beyond this many are not waited for by `overflow: 'wait'` writers. */
export const READER_SLOTS = (RING_HEADER_SIZE - READER_SLOTS_OFFSET) / READER_SLOT_SIZE;
/** Bytes of the header that starts every record. */
export const RECORD_HEADER_SIZE = 16;
/** Records start on multiples of this, so a record header never straddles the end of the ring. */
export const RECORD_ALIGNMENT = 16;
/** Smallest data area: room for a handful of small records. */
export const MIN_CAPACITY = 4096;
/** Largest data area: positions are u32 and must stay well clear of 2^31 distances. */
export const MAX_CAPACITY = 1 << 30;
/** Largest payload a record header can describe (30 bits of length). */
export const MAX_RECORD_LENGTH = (1 << 30) - 1;

/**
 * Byte offsets of the ring header fields. Fields written on every publish (the claim cursor) and
 * fields written when readers sleep (doorbell) sit on separate cache lines so that the two kinds of
 * traffic do not invalidate each other.
 *
 * @example
 * ```ts
 * const magic = new DataView(buffer).getUint32(RingOffset.magic, true);
 * ```
 */
export const RingOffset = {
  /** u32 {@link RING_MAGIC}, written last by the creator: its presence means "initialised". */
  magic: 0,
  /** u32 {@link RING_VERSION}. */
  version: 4,
  /** u32 size of the data area in bytes, a power of two. */
  capacity: 8,
  /** u32 {@link RING_HEADER_SIZE}: where the data area starts. */
  headerSize: 12,
  /** u32 pid of the creator, for diagnostics only. */
  creatorPid: 16,
  /**
   * u64 claim cursor, own cache line: low u32 = byte position of the next record (mod 2^32),
   * high u32 = sequence number of the next record (mod 2^32). One 64-bit compare-and-swap claims
   * both, so every record gets a position and a sequence number in the same order.
   */
  claim: 64,
  /**
   * i32 generation, the futex word on Linux: a writer that takes the sleep announcements adds 1.
   * Low half of the 64-bit (doorbell, sleepers) pair, which changes only as a whole.
   */
  doorbell: 128,
  /**
   * i32 sleep announcements made in the current doorbell generation and still standing: one per
   * process with a wait in flight (or about to wait) on this ring, however many of its transports
   * read it. Its reader withdraws it when the wait ends (timeout, or records found on the recheck);
   * a writer takes all at once, moving the doorbell on, and wakes that many. So it is non-zero
   * only while some reader is asleep or about to sleep. High half of the pair at `doorbell`.
   */
  sleepers: 132,
  /** i32 number of claims readers declared abandoned (writer died or stalled mid-write). */
  abandoned: 192,
  /** i32 counter handing each joining writer a tag unique within this ring. */
  nextWriterTag: 196,
} as const;

/**
 * Byte offsets inside a reader slot. A reader takes a free slot (owner 0 → its pid, by
 * compare-and-swap) and stores its position after every batch it reads; writers that wait for
 * readers (`overflow: 'wait'`) never claim past the slowest slot's position plus the capacity.
 *
 * @example
 * ```ts
 * const owner = i32[(READER_SLOTS_OFFSET + slot * READER_SLOT_SIZE + ReaderSlotOffset.owner) >> 2];
 * ```
 */
export const ReaderSlotOffset = {
  /** i32 pid of the reader's process, 0 when the slot is free. */
  owner: 0,
  /** u32 byte position of the next record the reader will read. */
  position: 4,
  /** u32 sequence number of that record (diagnostics). */
  sequence: 8,
} as const;

/**
 * Byte offsets inside a record header. A record is the header followed by the payload, padded to
 * {@link RECORD_ALIGNMENT}; the payload may wrap around the end of the data area.
 *
 * @example
 * ```ts
 * const seq = u32[(dataStart + position + RecordOffset.sequence) >>> 2];
 * ```
 */
export const RecordOffset = {
  /** i32 state (top two bits, see {@link RecordState}) and payload length (low 30 bits). */
  lengthState: 0,
  /** u32 the record's sequence number, stored last when claiming: the "header valid" marker. */
  sequence: 4,
  /** u32 {@link recordStamp} of position and sequence: tells a real header from stale bytes. */
  stamp: 8,
  /**
   * u32 tag of the writer, unique within the ring (from `nextWriterTag`): a member skips its own
   * records, since a bus member never receives the frames it sent.
   */
  writerTag: 12,
} as const;

/** The state in the top two bits of a record's `lengthState` word. */
export const RecordState = {
  /** A writer claimed the space and is copying the payload. */
  Claimed: 1,
  /** The payload is complete: readers may deliver it. */
  Committed: 2,
  /** A reader gave up waiting for the writer: nobody delivers it, the writer's commit fails. */
  Abandoned: 3,
} as const;

/** Numeric record state; see {@link RecordState}. */
export type RecordState = (typeof RecordState)[keyof typeof RecordState];

/** Mask of the length bits of a `lengthState` word. */
export const LENGTH_MASK = 0x3fffffff;

/**
 * Mixes a record's position and sequence into a check word. The recovery scan after a writer died
 * between claiming and stamping looks for headers whose stamp matches; payload bytes left from an
 * earlier lap match by accident with probability 2^-32 per candidate, not "whenever a payload
 * happens to contain a small integer".
 *
 * @example
 * ```ts
 * const ok = u32[stampIndex] === recordStamp(position, sequence);
 * ```
 */
export function recordStamp(position: number, sequence: number): number {
  return (Math.imul(position ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(sequence ^ 0x27d4eb2f, 0xc2b2ae35)) >>> 0;
}

/**
 * Bytes a record of `length` payload bytes occupies in the ring, header and padding included.
 *
 * @example
 * ```ts
 * recordSize(64); // 80
 * ```
 */
export function recordSize(length: number): number {
  return (RECORD_HEADER_SIZE + length + RECORD_ALIGNMENT - 1) & ~(RECORD_ALIGNMENT - 1);
}

/**
 * Bytes to map for a ring whose data area holds `capacity` bytes.
 *
 * @example
 * ```ts
 * mappingSize(16 * 1024 * 1024); // 16 MiB + 4096 (RING_HEADER_SIZE)
 * ```
 */
export function mappingSize(capacity: number): number {
  return RING_HEADER_SIZE + capacity;
}

/**
 * True when `capacity` is a usable data-area size: a power of two in [{@link MIN_CAPACITY},
 * {@link MAX_CAPACITY}]. Powers of two let positions wrap at 2^32 without a seam.
 *
 * @example
 * ```ts
 * isValidCapacity(16 * 1024 * 1024); // true
 * ```
 */
export function isValidCapacity(capacity: number): boolean {
  return (
    Number.isInteger(capacity) &&
    capacity >= MIN_CAPACITY &&
    capacity <= MAX_CAPACITY &&
    (capacity & (capacity - 1)) === 0
  );
}
