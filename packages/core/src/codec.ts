/**
 * Payload codecs: how `data` becomes the payload bytes of an envelope. The encoding is written in
 * each envelope, so a receiver decodes with the sender's codec whatever its own default is.
 *
 * @module
 */
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { allocateBytes, ByteSlab } from './byte-slab.js';
import { CodecError } from './errors.js';
import { PayloadEncoding } from './envelope.js';

/** Turns application values into payload bytes and back. */
export interface PayloadCodec {
  /** The number written in the envelope's encoding byte. */
  readonly encoding: PayloadEncoding;
  /** Encode one value. Throws {@link CodecError} for a value the codec cannot carry. */
  encode(value: unknown): Uint8Array;
  /** Decode one payload. `bytes` may be a view into a reused buffer: the result must not keep it. */
  decode(bytes: Uint8Array): unknown;
  /**
   * Optional, for speed: when `value` is a `Uint8Array` whose encoding is a short head followed by
   * the value's own bytes, that head (the bus then writes head and value straight into the frame,
   * copying the value once); `undefined` otherwise, and the bus calls {@link encode}.
   */
  head?(value: unknown): Uint8Array | undefined;
  /**
   * Optional, for speed: `value` encoded behind `room` free bytes (the first `room` bytes of the
   * result are the caller's to fill), or `undefined` when this codec does not do it for `value`
   * (the bus then calls {@link encode}). The bus writes the envelope's head into the room, so the
   * encoding becomes the frame: nothing allocated for it, nothing copied. Throws as `encode` does.
   */
  encodeWithRoom?(value: unknown, room: number): Uint8Array | undefined;
}

// Records off: a record structure shared across messages would make each payload depend on what
// the receiver saw before, which a lossy transport cannot promise.
// copyBuffers: binary values must not be views into the frame, which may be a transport's reused
// buffer or shared memory that is overwritten once the callback returns.
const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });

/**
 * Most room msgpackr leaves in front of an encoding: `RESERVE_START_SPACE` takes the count in the
 * low byte of its options.
 */
const MAX_ROOM = 0xff;

/**
 * Decode through a view of the payload's whole ArrayBuffer, reused while payloads come from the
 * same buffer (a socket read, the mmf reader's run, the frame slab). msgpackr keeps a DataView as
 * a property of the array it decodes; for a fresh subarray per payload that meant a DataView and
 * a new property per message, the largest single cost of receiving in profiles.
 */
let wholeView: Uint8Array | undefined;
/** Larger buffers (a reassembled message) are decoded as they are, so none is kept alive here. */
const WHOLE_VIEW_MAX_BYTES = 4 * 1024 * 1024;

function unpackPayload(bytes: Uint8Array, start: number): unknown {
  const binary = unpackBinary(bytes, start);
  if (binary !== undefined) return binary;
  const buffer = bytes.buffer;
  // Empty: msgpackr reads `end: 0` as "to the end", so leave it to the plain path, which rejects it.
  if (bytes.length === start || buffer.byteLength > WHOLE_VIEW_MAX_BYTES) {
    // A plain Uint8Array view even of a Buffer frame (a codec's output made into the frame, see
    // `encodeWithRoom`): binary values msgpackr copies out of it then come out as Uint8Array too.
    return packr.unpack(new Uint8Array(bytes.buffer, bytes.byteOffset + start, bytes.length - start));
  }
  let whole = wholeView;
  if (whole === undefined || whole.buffer !== buffer) {
    whole = new Uint8Array(buffer);
    wholeView = whole;
  }
  return packr.unpack(whole, { start: bytes.byteOffset + start, end: bytes.byteOffset + bytes.length });
}

/**
 * A `Uint8Array` (or Buffer) as msgpack bin 8/16/32, the bytes msgpackr writes for it. Written
 * here because msgpackr reaches binary only after testing the value against each of its extension
 * classes, which was the largest cost of publishing a binary payload in profiles.
 */
function packBinary(value: Uint8Array): Uint8Array {
  const head = binaryHead(value.length);
  const out = allocateBytes(head.length + value.length);
  out.set(head);
  out.set(value, head.length);
  return out;
}

/** bin 8 heads for the lengths that fit one, made once: they are what small binary payloads use. */
const BIN8_HEADS: readonly Uint8Array[] = Array.from({ length: 0x100 }, (_, n) => Uint8Array.of(0xc4, n));

/** The msgpack bin 8/16/32 head of a `Uint8Array` of `n` bytes, as {@link packBinary} writes it. */
function binaryHead(n: number): Uint8Array {
  if (n < 0x100) return BIN8_HEADS[n] as Uint8Array;
  if (n < 0x10000) return Uint8Array.of(0xc5, n >>> 8, n & 0xff);
  if (n > 0xffffffff) throw new CodecError('msgpack carries binary values up to 4 GiB - 1');
  return Uint8Array.of(0xc6, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * A payload (`bytes` from `start` to its end) that is one msgpack bin value and nothing else, as
 * a copy; `undefined` for anything else (msgpackr decodes it, and rejects what is malformed). The counterpart of `packBinary`.
 */
function unpackBinary(bytes: Uint8Array, start: number): Uint8Array | undefined {
  const n = bytes.length - start;
  if (n < 2) return undefined;
  let header: number;
  let length: number;
  switch (bytes[start]) {
    case 0xc4:
      header = 2;
      length = bytes[start + 1] as number;
      break;
    case 0xc5:
      header = 3;
      length = ((bytes[start + 1] as number) << 8) | (bytes[start + 2] as number);
      break;
    case 0xc6:
      header = 5;
      length =
        (bytes[start + 1] as number) * 0x1000000 +
        (((bytes[start + 2] as number) << 16) | ((bytes[start + 3] as number) << 8) | (bytes[start + 4] as number));
      break;
    default:
      return undefined;
  }
  if (header + length !== n) return undefined;
  return copyPayload(bytes, start + header);
}

/**
 * Received payloads of up to 1 KiB are copied into views of a shared 16 KiB slab. A copy of more
 * than 64 bytes into a fresh `Uint8Array` gets its own off-heap backing store, which measured about
 * 900 ns on Linux, more than the rest of receiving a small message; a view into a slab costs about
 * a tenth of that. What it retains: a payload kept by the application keeps its whole slab alive,
 * so at most 16 KiB (Node's own Buffer pool holds 8 KiB the same way), which is why the slab is
 * small and only payloads of up to 1 KiB use it (16 or more per slab, so a fresh slab costs a few
 * ns a message). Not `allocateBytes`: its 256 KiB slabs would make that bound 16 times larger.
 * Larger payloads, and those of 64 bytes or less (whose copy stays on the V8 heap and costs less
 * than a view), are copied with `slice`. The copy is the application's: never a view into the
 * frame, which may be a transport's reused buffer or shared memory.
 */
const COPY_ON_HEAP_BYTES = 64;
const COPY_IN_SLAB_MAX_BYTES = 1024;
const receivedCopies = new ByteSlab(16 * 1024, COPY_IN_SLAB_MAX_BYTES);

/** A copy of `bytes` from `start` to its end, of the same class (see {@link receivedCopies}). */
function copyPayload(bytes: Uint8Array, start: number): Uint8Array {
  const n = bytes.length - start;
  // A Buffer (or other subclass) is copied as before, into its own class: `slice` takes the species.
  if (n <= COPY_ON_HEAP_BYTES || n > COPY_IN_SLAB_MAX_BYTES || bytes.constructor !== Uint8Array) {
    // The typed-array slice, which copies, whatever `bytes` is (a Buffer's own slice is a view).
    return Uint8Array.prototype.slice.call(bytes, start);
  }
  const copy = receivedCopies.allocate(n);
  copy.set(start === 0 ? bytes : bytes.subarray(start));
  return copy;
}

/**
 * msgpack through msgpackr: compact, fast, carries `Uint8Array`, `Date`, `Map` and `bigint`.
 * The default codec.
 *
 * @example
 * ```ts
 * const bus = await createBus({ url: 'memory://a', codec: msgpackCodec });
 * ```
 */
export const msgpackCodec: PayloadCodec = {
  encoding: PayloadEncoding.MsgPack,
  encode(value) {
    if (value instanceof Uint8Array) return packBinary(value);
    try {
      return packr.pack(value);
    } catch (cause) {
      throw new CodecError('msgpack could not encode the value', { cause });
    }
  },
  head(value) {
    return value instanceof Uint8Array ? binaryHead(value.length) : undefined;
  },
  encodeWithRoom(value, room) {
    // Binary values go behind their head without an encoding (see `head`).
    if (value instanceof Uint8Array || room > MAX_ROOM || room < 0) return undefined;
    try {
      // A view of msgpackr's output buffer, as `pack` returns: msgpackr goes on past it and never
      // writes there again, so the frame made of it stays as it is.
      return packr.pack(value, RESERVE_START_SPACE | room);
    } catch (cause) {
      throw new CodecError('msgpack could not encode the value', { cause });
    }
  },
  decode(bytes) {
    return unpackChecked(bytes, 0);
  },
};

/** {@link unpackPayload}, its failures as {@link CodecError}. */
function unpackChecked(bytes: Uint8Array, start: number): unknown {
  try {
    return unpackPayload(bytes, start);
  } catch (cause) {
    throw new CodecError('payload is not valid msgpack', { cause });
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON as UTF-8 text, for interoperating with programs that have no msgpack.
 *
 * @example
 * ```ts
 * const bus = await createBus({ url: 'memory://a', codec: jsonCodec });
 * ```
 */
export const jsonCodec: PayloadCodec = {
  encoding: PayloadEncoding.Json,
  encode(value) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (cause) {
      throw new CodecError('JSON could not encode the value', { cause });
    }
    return textEncoder.encode(text ?? 'null');
  },
  decode(bytes) {
    try {
      return JSON.parse(textDecoder.decode(bytes)) as unknown;
    } catch (cause) {
      throw new CodecError('payload is not valid JSON', { cause });
    }
  },
};

/**
 * Raw bytes: `data` must be a `Uint8Array` (a Node `Buffer` is one) and arrives as a copied
 * `Uint8Array`.
 *
 * @example
 * ```ts
 * await bus.publish('blob', new Uint8Array([1, 2, 3]));
 * ```
 */
export const rawCodec: PayloadCodec = {
  encoding: PayloadEncoding.Raw,
  encode(value) {
    if (!(value instanceof Uint8Array)) throw new CodecError('the raw codec carries only Uint8Array values');
    return value;
  },
  decode(bytes) {
    // A copy, never a view into the transport's buffer (see copyPayload).
    return copyPayload(bytes, 0);
  },
};

/**
 * Decode the payload that runs from `start` to the end of `frame`, as `codecFor(encoding).decode`
 * would decode it as a view, and with the same errors; msgpack is read in place, without the view.
 *
 * @example
 * ```ts
 * const data = decodePayloadAt(env.encoding, env.frame, env.payloadStart);
 * ```
 */
export function decodePayloadAt(encoding: number, frame: Uint8Array, start: number): unknown {
  if (encoding !== PayloadEncoding.MsgPack) return codecFor(encoding).decode(frame.subarray(start));
  return unpackChecked(frame, start);
}

/**
 * The codec that reads a given envelope encoding.
 *
 * @example
 * ```ts
 * const value = codecFor(envelope.encoding).decode(envelope.payload);
 * ```
 */
export function codecFor(encoding: number): PayloadCodec {
  switch (encoding) {
    case PayloadEncoding.MsgPack:
      return msgpackCodec;
    case PayloadEncoding.Json:
      return jsonCodec;
    case PayloadEncoding.Raw:
      return rawCodec;
    default:
      throw new CodecError(`unknown payload encoding ${encoding}`);
  }
}
