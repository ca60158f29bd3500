/**
 * Splits the byte stream of a stream transport (a named pipe in byte mode, a TCP or Unix socket)
 * back into frames. On the wire each frame is a 4-byte big-endian length followed by that many
 * bytes of envelope; see `docs/wire-format.md`.
 *
 * @module
 */
import { checkEnvelopeHeader, DEFAULT_MAX_FRAME_SIZE, ENVELOPE_HEADER_SIZE } from './envelope.js';
import { ConfigurationError, FrameError, FrameTooLargeError } from './errors.js';

/** Size of the length prefix that stream transports put before every envelope. */
export const LENGTH_PREFIX_SIZE = 4;

/** The length prefix plus the fixed envelope header: what must be seen before a frame is allocated. */
const HEAD_SIZE = LENGTH_PREFIX_SIZE + ENVELOPE_HEADER_SIZE;

/**
 * Most bytes allocated for a frame that straddles reads before more of it has arrived. An announced
 * length is only a claim: a peer that announces 16 MiB and sends 45 bytes must not hold 16 MiB of
 * the hub's memory for `frameTimeout`. Frames up to this size (the common case) are allocated once.
 */
export const FRAME_INITIAL_ALLOCATION = 64 * 1024;

/** Options of a {@link FrameDecoder}. */
export type FrameDecoderOptions = Readonly<
  Partial<{
    /**
     * Largest envelope accepted, in bytes (the length prefix excluded). A larger announced length
     * fails the stream with {@link FrameTooLargeError} before anything is allocated for it.
     * Default: `DEFAULT_MAX_FRAME_SIZE` (16 MiB).
     */
    maxFrameSize: number;
  }>
>;

/** Receives each complete envelope, without its length prefix. */
export type FrameHandler = (frame: Uint8Array) => void;

/**
 * A streaming decoder of length-prefixed frames with a carry-over buffer.
 *
 * A frame that lies within one pushed chunk is handed out as a zero-copy view of that chunk, so
 * `onFrame` must copy what it keeps beyond the chunk's lifetime. A frame split across chunks is
 * assembled in a buffer allocated only once the length prefix and the 40-byte envelope header
 * have been seen and checked, so a hostile peer cannot make the decoder allocate more than the
 * limit, nor anything at all for a frame that is malformed. That buffer starts at 64 KiB (or
 * the announced length if smaller) and doubles as
 * bytes arrive, never beyond the announced length: memory follows the bytes actually received
 * (at most about twice them, or 64 KiB), not the length a peer claims ({@link FrameDecoder.allocatedBytes}).
 *
 * After any error the decoder is poisoned: the stream position is lost, so every later `push`
 * throws the same error and the caller is expected to close that one connection.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
 * socket.on('data', (chunk) => {
 *   try {
 *     decoder.push(chunk, (frame) => bus.receive(frame));
 *   } catch (err) {
 *     socket.destroy(err as Error); // FrameError or FrameTooLargeError: drop only this peer
 *   }
 * });
 * ```
 */
export class FrameDecoder {
  readonly #maxFrameSize: number;
  /** Prefix + header of the frame being received when they straddle chunks; allocated once. */
  readonly #head = new Uint8Array(HEAD_SIZE);
  #headFilled = 0;
  /** Envelope being assembled across chunks, once its header has been checked; may be shorter than announced. */
  #frame: Uint8Array | undefined;
  #frameFilled = 0;
  /** Announced length of the frame being assembled. */
  #frameLength = 0;
  #error: unknown;
  #failed = false;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    // The prefix is a u32, so a larger limit could never be reached and would only hide a mistake.
    if (!Number.isInteger(max) || max < ENVELOPE_HEADER_SIZE || max > 0xffff_ffff) {
      throw new ConfigurationError(
        `maxFrameSize must be an integer from ${ENVELOPE_HEADER_SIZE} to 4294967295, got ${max}`,
      );
    }
    this.#maxFrameSize = max;
  }

  /** Bytes received but not yet handed out as a frame. */
  get buffered(): number {
    // A frame in assembly has consumed its length prefix too; count it so the figure matches the stream.
    return this.#frame === undefined ? this.#headFilled : LENGTH_PREFIX_SIZE + this.#frameFilled;
  }

  /**
   * Bytes allocated now for the frame being assembled across chunks (0 between frames): at most
   * the larger of 64 KiB and about twice the bytes of it received so far, and never more than its
   * announced length. For monitoring the memory a connection holds.
   *
   * @example
   * ```ts
   * decoder.push(prefixAndHeaderOf16MiBFrame, onFrame);
   * decoder.allocatedBytes; // 65536, not 16777216
   * ```
   */
  get allocatedBytes(): number {
    return this.#frame?.length ?? 0;
  }

  /**
   * Feed the next chunk of the stream; calls `onFrame` synchronously for every frame it completes,
   * in order. Throws {@link FrameTooLargeError} or {@link FrameError} on a bad frame (and on every
   * call after that). An exception thrown by `onFrame` also poisons the decoder, because the rest
   * of the chunk was not consumed.
   *
   * @example
   * ```ts
   * decoder.push(chunk, (frame) => frames.push(decodeEnvelope(frame)));
   * ```
   */
  push(chunk: Uint8Array, onFrame: FrameHandler): void {
    if (this.#failed) throw this.#error;
    try {
      this.#consume(chunk, onFrame);
    } catch (err) {
      this.#failed = true;
      this.#error = err;
      // Release what was being assembled: the connection is going away.
      this.#frame = undefined;
      this.#frameFilled = 0;
      this.#headFilled = 0;
      throw err;
    }
  }

  #consume(chunk: Uint8Array, onFrame: FrameHandler): void {
    const end = chunk.length;
    let at = 0;
    while (at < end) {
      const frame = this.#frame;
      if (frame !== undefined) {
        // Continue a frame begun in an earlier chunk.
        const filled = this.#frameFilled;
        const take = Math.min(this.#frameLength - filled, end - at);
        const into = filled + take <= frame.length ? frame : this.#grow(frame, filled + take);
        into.set(chunk.subarray(at, at + take), filled);
        this.#frameFilled = filled + take;
        at += take;
        // Growth stops at the announced length, so a complete frame fills its buffer exactly.
        if (this.#frameFilled === this.#frameLength) {
          this.#frame = undefined;
          this.#frameFilled = 0;
          onFrame(into);
        }
        continue;
      }
      if (this.#headFilled === 0 && end - at >= HEAD_SIZE) {
        // Fast path: prefix and header are both in this chunk, read them in place.
        const length = this.#checkLength(readU32(chunk, at));
        const body = at + LENGTH_PREFIX_SIZE;
        if (end - body >= length) {
          // One view per frame, checked and handed out. The view constructor rather than
          // subarray(): it skips the species lookup, and this runs for every frame received.
          const frame = new Uint8Array(chunk.buffer, chunk.byteOffset + body, length);
          checkEnvelopeHeader(frame, length);
          at = body + length;
          onFrame(frame);
        } else {
          const rest = chunk.subarray(body, end);
          checkEnvelopeHeader(rest, length);
          this.#startFrame(length, rest);
          at = end;
        }
        continue;
      }
      // Slow path: gather prefix and header across chunks into the fixed head buffer.
      const before = this.#headFilled;
      const take = Math.min(HEAD_SIZE - before, end - at);
      this.#head.set(chunk.subarray(at, at + take), before);
      this.#headFilled += take;
      at += take;
      if (before < LENGTH_PREFIX_SIZE && this.#headFilled >= LENGTH_PREFIX_SIZE) {
        // Reject an oversized announcement as soon as its 4 bytes are in, not 40 bytes later.
        this.#checkLength(readU32(this.#head, 0));
      }
      if (this.#headFilled === HEAD_SIZE) {
        const length = readU32(this.#head, 0);
        const header = this.#head.subarray(LENGTH_PREFIX_SIZE);
        checkEnvelopeHeader(header, length);
        this.#headFilled = 0;
        if (length === ENVELOPE_HEADER_SIZE) {
          // A header-only frame: the head buffer is reused, so hand out a copy.
          onFrame(header.slice());
        } else {
          this.#startFrame(length, header);
        }
      }
    }
  }

  /** Validate an announced length; throws before anything is allocated for it. */
  #checkLength(length: number): number {
    if (length > this.#maxFrameSize) throw new FrameTooLargeError(length, this.#maxFrameSize);
    if (length < ENVELOPE_HEADER_SIZE) {
      throw new FrameError(`frame of ${length} bytes is shorter than the ${ENVELOPE_HEADER_SIZE}-byte header`);
    }
    return length;
  }

  /** Allocate room for the checked frame (not all of it unless it is small) and copy in the bytes at hand. */
  #startFrame(length: number, first: Uint8Array): void {
    const frame = new Uint8Array(Math.min(length, Math.max(FRAME_INITIAL_ALLOCATION, first.length)));
    frame.set(first, 0);
    this.#frame = frame;
    this.#frameFilled = first.length;
    this.#frameLength = length;
  }

  /** Move the frame in assembly to a buffer of at least `needed` bytes: doubled, capped at its length. */
  #grow(frame: Uint8Array, needed: number): Uint8Array {
    const bigger = new Uint8Array(Math.min(this.#frameLength, Math.max(needed, frame.length * 2)));
    bigger.set(frame.subarray(0, this.#frameFilled), 0);
    this.#frame = bigger;
    return bigger;
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  // Four byte reads beat a DataView allocation per frame on the hot path.
  return (
    (bytes[at] as number) * 0x100_0000 +
    (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number))
  );
}

/**
 * Put the 4-byte big-endian length prefix that stream transports use in front of a frame.
 *
 * @example
 * ```ts
 * socket.write(encodeLengthPrefixed(encodeEnvelope(init)));
 * ```
 */
export function encodeLengthPrefixed(frame: Uint8Array): Uint8Array {
  if (frame.length > 0xffff_ffff) throw new FrameTooLargeError(frame.length, 0xffff_ffff);
  const out = new Uint8Array(LENGTH_PREFIX_SIZE + frame.length);
  writeLengthPrefix(out, 0, frame.length);
  out.set(frame, LENGTH_PREFIX_SIZE);
  return out;
}

/**
 * The 4-byte big-endian length prefix of an `n`-byte frame, written at `target[at…]`: what
 * {@link FrameDecoder} reads before each frame.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(LENGTH_PREFIX_SIZE + frame.length);
 * writeLengthPrefix(out, 0, frame.length);
 * out.set(frame, LENGTH_PREFIX_SIZE);
 * ```
 */
export function writeLengthPrefix(target: Uint8Array, at: number, n: number): void {
  target[at] = n >>> 24;
  target[at + 1] = (n >>> 16) & 0xff;
  target[at + 2] = (n >>> 8) & 0xff;
  target[at + 3] = n & 0xff;
}
