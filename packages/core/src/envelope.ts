/**
 * The envelope: the one frame format every transport carries. Documented byte by byte in
 * `docs/wire-format.md`; the test vectors there are checked by `envelope.test.ts`.
 *
 * @module
 */
import { allocateBytes } from './byte-slab.js';
import { FrameError, FrameTooLargeError } from './errors.js';

/** First two bytes of every envelope: ASCII "BW". */
export const ENVELOPE_MAGIC = 0x4257;
/** The wire-format version this code writes and the only one it reads. */
export const ENVELOPE_VERSION = 1;
/** Size of the fixed header that starts every envelope, in bytes. */
export const ENVELOPE_HEADER_SIZE = 40;
/** Largest topic, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 1024;
/** Default largest envelope, in bytes: 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

/** What an envelope carries; the numbers are on the wire. */
export const FrameKind = {
  /** An application message on a topic. */
  Publish: 1,
  /** A request on a topic; replies go to the inbox of its origin. */
  Request: 2,
  /** One reply of a (possibly streaming) request. */
  Reply: 3,
  /** The handler's stream completed; no more replies. */
  ReplyEnd: 4,
  /** The handler failed; the payload is a JSON `{name, message, code}`. */
  ReplyError: 5,
  /** The requester lost interest; the handler should stop. */
  Cancel: 6,
  /** The member subscribes to the pattern in `topic`. */
  Subscribe: 7,
  /** The member drops one subscription to the pattern in `topic`. */
  Unsubscribe: 8,
  /** The member handles requests on the pattern in `topic`. */
  Handle: 9,
  /** The member drops one handler of the pattern in `topic`. */
  Unhandle: 10,
  /** Sent by a router: nobody handles the request identified by `correlation`. */
  NoResponders: 11,
  /** The handler received the request and is working on it. */
  Ack: 12,
  /** Announces a member, sent on join and as a heartbeat by broadcast transports. */
  Hello: 13,
  /** The member `origin` left the bus (sent by itself on close, or by a hub on its behalf). */
  Leave: 14,
} as const;

/** Numeric frame kind; see {@link FrameKind}. */
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const MAX_KIND = 14;

/** Bits of the envelope `flags` byte. */
export const FrameFlags = {
  /** `fragmentCount` > 1: this envelope is one fragment of a larger message. */
  Fragment: 0x01,
  /** The envelope carries a headers block. */
  Headers: 0x02,
  /**
   * On a `Reply`: it is the last one, the stream ends with it. Lets a handler that answers one value
   * send one frame instead of `Reply` + `ReplyEnd`.
   */
  Last: 0x04,
} as const;

/** How the payload bytes were encoded; the numbers are on the wire. */
export const PayloadEncoding = {
  Raw: 0,
  MsgPack: 1,
  Json: 2,
} as const;

const MAX_ENCODING = 2;

/** Numeric payload encoding; see {@link PayloadEncoding}. */
export type PayloadEncoding = (typeof PayloadEncoding)[keyof typeof PayloadEncoding];

/** String headers carried beside the payload, for example a W3C `traceparent`. */
export type Headers = Readonly<Record<string, string>>;

/**
 * A decoded envelope. `payload` is a view into the frame it was decoded from: copy it if you keep
 * it beyond the current callback.
 */
export interface Envelope {
  readonly kind: FrameKind;
  readonly flags: number;
  readonly encoding: PayloadEncoding;
  /** Member id of the sender: a random integer below 2^53, fixed for a bus's lifetime. */
  readonly origin: number;
  /** Per-origin sequence number, incremented for every frame the origin sends (mod 2^32). */
  readonly sequence: number;
  /** Correlation id of a request and everything that answers it; 0 otherwise. */
  readonly correlation: number;
  /** Index of this fragment, 0 when not fragmented. */
  readonly fragmentIndex: number;
  /** Number of fragments of the message, 1 when not fragmented. */
  readonly fragmentCount: number;
  readonly topic: string;
  readonly headers: Headers | undefined;
  readonly payload: Uint8Array;
}

/** The fields of an envelope that a sender supplies; the rest take neutral defaults. */
export interface EnvelopeInit {
  readonly kind: FrameKind;
  readonly origin: number;
  readonly sequence: number;
  readonly topic: string;
  readonly encoding?: PayloadEncoding;
  readonly correlation?: number;
  readonly fragmentIndex?: number;
  readonly fragmentCount?: number;
  readonly headers?: Headers | undefined;
  readonly payload?: Uint8Array;
  /**
   * Bytes that go before `payload`, as part of it: a codec's short head for a value it carries
   * byte for byte (msgpack's bin header before a `Uint8Array`, see `PayloadCodec.head`), so that
   * the value is copied once, into the frame, rather than into an encoding and then the frame.
   */
  readonly payloadHead?: Uint8Array | undefined;
  /** Sets the `Last` flag (see {@link FrameFlags}). */
  readonly last?: boolean | undefined;
}

const textEncoder = new TextEncoder();
// ignoreBOM: a topic or header that starts with U+FEFF must come back with it, not stripped.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);

/**
 * Encode the headers block: u16 count, then for each entry u16 key length, key, u16 value length,
 * value (UTF-8). Deliberately not msgpack so the wire format needs no codec to route.
 */
function encodeHeaders(headers: Headers): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 2;
  for (const [key, value] of Object.entries(headers)) {
    const k = textEncoder.encode(key);
    const v = textEncoder.encode(value);
    if (k.length > 0xffff || v.length > 0xffff) throw new FrameError(`header "${key}" is longer than 65535 bytes`);
    parts.push(k, v);
    size += 4 + k.length + v.length;
  }
  // The count is a u16: more entries would silently wrap and corrupt the block.
  if (parts.length / 2 > 0xffff) throw new FrameError('more than 65535 headers');
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, parts.length / 2);
  let at = 2;
  for (const part of parts) {
    view.setUint16(at, part.length);
    out.set(part, at + 2);
    at += 2 + part.length;
  }
  return out;
}

/**
 * Decode a headers block. Keys repeat and are mostly short ASCII: they come from a cache
 * ({@link AsciiCache}). Values (a `traceparent`, ids) mostly differ: ASCII ones are read as Latin-1,
 * which is the same text, in one native call. Only the rest goes through the strict UTF-8 decoder,
 * whose two calls per header cost more than the rest of receiving a message.
 */
function decodeHeaders(bytes: Uint8Array): Headers {
  if (bytes.length < 2) throw new FrameError('headers block shorter than its count');
  const count = readU16(bytes, 0);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let at = 2;
  for (let i = 0; i < count; i += 1) {
    if (at + 2 > bytes.length) throw new FrameError('headers block truncated');
    const keyEnd = at + 2 + readU16(bytes, at);
    if (keyEnd > bytes.length) throw new FrameError('headers block truncated');
    const key = headerKeys.get(bytes, at + 2, keyEnd) ?? textDecoder.decode(bytes.subarray(at + 2, keyEnd));
    at = keyEnd;
    if (at + 2 > bytes.length) throw new FrameError('headers block truncated');
    const valueEnd = at + 2 + readU16(bytes, at);
    if (valueEnd > bytes.length) throw new FrameError('headers block truncated');
    headers[key] = decodeValue(bytes, at + 2, valueEnd);
    at = valueEnd;
  }
  if (at !== bytes.length) throw new FrameError('headers block has trailing bytes');
  return headers;
}

const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }
).latin1Slice;

/** UTF-8 text, strictly (a bad sequence throws); ASCII without the UTF-8 decoder. */
function decodeValue(b: Uint8Array, start: number, end: number): string {
  let high = 0;
  for (let i = start; i < end; i += 1) high |= b[i] as number;
  if (high < 0x80) return start === end ? '' : latin1Slice.call(b, start, end);
  return textDecoder.decode(b.subarray(start, end));
}

/**
 * Encode an envelope into one frame.
 *
 * @example
 * ```ts
 * const frame = encodeEnvelope({ kind: FrameKind.Publish, origin: 7, sequence: 1, topic: 'a.b',
 *   payload: new Uint8Array([1, 2]) });
 * ```
 */
export function encodeEnvelope(init: EnvelopeInit): Uint8Array {
  const topic = checkedTopicBytes(init.topic);
  const headers = encodedHeaders(init);
  const frame = allocateBytes(ENVELOPE_HEADER_SIZE + topic.length + headers.length + payloadLength(init));
  writeFrame(frame, 0, init, topic, headers);
  return frame;
}

/**
 * Write the envelope of `init` as one frame into `target` at `offset`, where exactly
 * {@link envelopeSize}`(init)` bytes must be free. For a transport that hands out memory to fill
 * in place (a slot of the mmf ring): the frame is written once, where it is read, with no
 * allocation. Throws {@link FrameError} as {@link encodeEnvelope} does, before writing anything.
 *
 * @example
 * ```ts
 * const size = envelopeSize(init);
 * writeEnvelope(slot, at, init); // fills slot[at, at + size)
 * ```
 */
export function writeEnvelope(target: Uint8Array, offset: number, init: EnvelopeInit): void {
  writeFrame(target, offset, init, checkedTopicBytes(init.topic), encodedHeaders(init));
}

/**
 * Bytes an envelope on `topic` without headers or fragments takes before its payload: the room a
 * codec leaves in front of an encoding (`PayloadCodec.encodeWithRoom`) for
 * {@link encodeEnvelopeInRoom}. Not checked: a topic over {@link MAX_TOPIC_BYTES} gives its size
 * all the same, and encoding the envelope then throws.
 *
 * @example
 * ```ts
 * const room = envelopeHeadSize('orders.created'); // 40 + 14
 * ```
 */
export function envelopeHeadSize(topic: string): number {
  return ENVELOPE_HEADER_SIZE + topicBytes(topic).length;
}

/**
 * Encode `init` as {@link encodeEnvelope} does, where `init.payload` holds `room` free bytes and
 * then the payload: when `room` is {@link envelopeHeadSize}`(init.topic)` and `init` has no
 * headers, fragments or `payloadHead`, the head is written into the room and `init.payload` is the
 * frame, with nothing allocated or copied. Otherwise the payload is taken from behind the room and
 * encoded as usual. Throws {@link FrameError} as {@link encodeEnvelope} does.
 *
 * @example
 * ```ts
 * const room = envelopeHeadSize('a.b');
 * const framed = new Uint8Array(room + 2);
 * framed.set([1, 2], room);
 * const frame = encodeEnvelopeInRoom({ kind: FrameKind.Publish, origin: 7, sequence: 1, topic: 'a.b', payload: framed }, room);
 * // frame === framed
 * ```
 */
export function encodeEnvelopeInRoom(init: EnvelopeInit, room: number): Uint8Array {
  const framed = init.payload ?? EMPTY;
  const topic = checkedTopicBytes(init.topic);
  const fits =
    room === ENVELOPE_HEADER_SIZE + topic.length &&
    room <= framed.length &&
    (init.payloadHead === undefined || init.payloadHead.length === 0) &&
    (init.fragmentCount ?? 1) === 1 &&
    (init.headers === undefined || Object.keys(init.headers).length === 0);
  if (!fits) return encodeEnvelope({ ...init, payload: framed.subarray(room) });
  writeFrame(framed, 0, init, topic, EMPTY, framed.length - room);
  return framed;
}

/** The headers block of `init`, empty when it has none. */
function encodedHeaders(init: Pick<EnvelopeInit, 'headers'>): Uint8Array {
  return init.headers !== undefined && Object.keys(init.headers).length > 0 ? encodeHeaders(init.headers) : EMPTY;
}

function checkedTopicBytes(topic: string): Uint8Array {
  const bytes = topicBytes(topic);
  if (bytes.length > MAX_TOPIC_BYTES) throw new FrameError(`topic longer than ${MAX_TOPIC_BYTES} bytes`);
  return bytes;
}

/**
 * `inPlace`: the payload is already in `frame` behind the head, this many bytes of it; otherwise
 * (-1) `init.payloadHead` and `init.payload` are copied there.
 */
function writeFrame(
  frame: Uint8Array,
  at: number,
  init: EnvelopeInit,
  topic: Uint8Array,
  headers: Uint8Array,
  inPlace = -1,
): void {
  const payload = inPlace < 0 ? (init.payload ?? EMPTY) : EMPTY;
  const head = inPlace < 0 ? (init.payloadHead ?? EMPTY) : EMPTY;
  const fragmentCount = init.fragmentCount ?? 1;
  const flags =
    (fragmentCount > 1 ? FrameFlags.Fragment : 0) |
    (headers.length > 0 ? FrameFlags.Headers : 0) |
    (init.last === true ? FrameFlags.Last : 0);
  const encoding = init.encoding ?? PayloadEncoding.Raw;
  const correlation = (init.correlation ?? 0) >>> 0;
  // A frame without headers or fragments whose fields all match the last one of its kind written
  // differs from it only in its sequence, correlation and payload length: copy that header and
  // topic, patch the three. The correlation is patched rather than compared: a requester's frames
  // differ in it and nothing else, as do a handler's replies to one requester.
  const reusable =
    (flags & ~FrameFlags.Last) === 0 &&
    fragmentCount === 1 &&
    (init.fragmentIndex ?? 0) === 0 &&
    init.kind >= 1 &&
    init.kind <= MAX_KIND;
  const last = reusable ? lastOfKind[init.kind] : undefined;
  if (
    last !== undefined &&
    init.topic === last.topic &&
    init.origin === last.origin &&
    encoding === last.encoding &&
    flags === last.flags
  ) {
    frame.set(last.bytes, at);
  } else {
    // The origin travels as a u64 but is read back as a JS number: beyond 2^53 it would not survive.
    if (!Number.isSafeInteger(init.origin) || init.origin < 0)
      throw new FrameError(`origin must be an integer from 0 to 2^53 - 1, got ${init.origin}`);
    frame[at] = ENVELOPE_MAGIC >>> 8;
    frame[at + 1] = ENVELOPE_MAGIC & 0xff;
    frame[at + 2] = ENVELOPE_VERSION;
    frame[at + 3] = init.kind;
    frame[at + 4] = flags;
    frame[at + 5] = encoding;
    writeU16(frame, at + 6, topic.length);
    writeU32(frame, at + 8, Math.floor(init.origin / 0x1_0000_0000));
    writeU32(frame, at + 12, init.origin >>> 0);
    writeU32(frame, at + 24, init.fragmentIndex ?? 0);
    writeU32(frame, at + 28, fragmentCount);
    writeU32(frame, at + 32, headers.length);
    copyBytes(frame, at + ENVELOPE_HEADER_SIZE, topic);
    if (last !== undefined) {
      last.topic = init.topic;
      last.origin = init.origin;
      last.encoding = encoding;
      last.flags = flags;
      // The typed-array slice: a copy, whatever `frame` is (a Buffer's own slice is a view).
      last.bytes = Uint8Array.prototype.slice.call(frame, at, at + ENVELOPE_HEADER_SIZE + topic.length);
    }
  }
  writeU32(frame, at + 16, init.sequence >>> 0);
  writeU32(frame, at + 20, correlation);
  writeU32(frame, at + 36, inPlace < 0 ? head.length + payload.length : inPlace);
  if (headers.length > 0) frame.set(headers, at + ENVELOPE_HEADER_SIZE + topic.length);
  const payloadAt = at + ENVELOPE_HEADER_SIZE + topic.length + headers.length;
  copyBytes(frame, payloadAt, head);
  copyBytes(frame, payloadAt + head.length, payload);
}

/** The fields and the bytes of a frame {@link writeFrame} wrote, kept to write the next like it. */
interface LastHeader {
  topic: string | undefined;
  origin: number;
  encoding: number;
  flags: number;
  /** Header and topic; sequence, correlation and payload length as they were. */
  bytes: Uint8Array;
}

/**
 * Per frame kind, the last frame {@link writeFrame} wrote without headers or fragments. A sender
 * mostly sends frame after frame of one kind on one topic: copying these 40-odd bytes and patching
 * 12 costs about half of writing every field again (measured on Node 20). Kept per kind, and
 * for frames with the Last flag too: where both ends are in one process (memory://, a hub's own
 * member) requests and replies alternate, and a value handler's reply carries Last, so with one
 * entry for flagless frames alone no reply was ever written from a kept header.
 */
const lastOfKind: readonly LastHeader[] = Array.from({ length: MAX_KIND + 1 }, () => ({
  topic: undefined,
  origin: -1,
  encoding: -1,
  flags: -1,
  bytes: EMPTY,
}));

/**
 * `target.set(source, at)`, by hand for a few bytes: `set` costs ~30 ns a call whatever the size
 * (measured on Node 20), more than copying a topic or a codec's head byte by byte.
 */
function copyBytes(target: Uint8Array, at: number, source: Uint8Array): void {
  const n = source.length;
  if (n > 32) {
    target.set(source, at);
    return;
  }
  for (let i = 0; i < n; i += 1) target[at + i] = source[i] as number;
}

/** Bytes of the payload of `init`, its head included. */
function payloadLength(init: Pick<EnvelopeInit, 'payload' | 'payloadHead'>): number {
  return (init.payloadHead?.length ?? 0) + (init.payload?.length ?? 0);
}

/**
 * The whole payload of `init` as one array: `payload` itself, or its head and it joined (a copy),
 * for code that cuts the payload up (the fragmenter).
 *
 * @example
 * ```ts
 * const bytes = wholePayload({ payloadHead: new Uint8Array([0xc4, 2]), payload: new Uint8Array([1, 2]) });
 * ```
 */
export function wholePayload(init: Pick<EnvelopeInit, 'payload' | 'payloadHead'>): Uint8Array {
  const payload = init.payload ?? EMPTY;
  const head = init.payloadHead;
  if (head === undefined || head.length === 0) return payload;
  const whole = new Uint8Array(head.length + payload.length);
  whole.set(head);
  whole.set(payload, head.length);
  return whole;
}

/**
 * The exact size in bytes of the envelope {@link encodeEnvelope} writes for `init` as one frame:
 * the 40-byte header, the topic and the headers block in UTF-8, and the payload. Lets a sender
 * decide whether a message fits in a frame (or under a size limit) without encoding it. Encodes
 * the headers, if any, to count them: they are rare and short, and so counted exactly as written.
 *
 * @example
 * ```ts
 * const size = envelopeSize({ topic: 'files.up', headers: { traceparent }, payload });
 * if (size > maxFrameSize) sendInFragments();
 * ```
 */
export function envelopeSize(init: Pick<EnvelopeInit, 'topic' | 'headers' | 'payload' | 'payloadHead'>): number {
  return ENVELOPE_HEADER_SIZE + topicBytes(init.topic).length + encodedHeaders(init).length + payloadLength(init);
}

/**
 * An upper bound of the bytes a headers block takes in an envelope, without encoding it: UTF-8
 * takes at most 3 bytes per UTF-16 unit. For a sender that needs the exact size (an
 * {@link envelopeSize}, which encodes the headers) only when the bound says it may not fit.
 *
 * @example
 * ```ts
 * if (ENVELOPE_HEADER_SIZE + topic.length * 3 + headersSizeBound(headers) + payload.length > limit) {
 *   size = envelopeSize({ topic, headers, payload });
 * }
 * ```
 */
export function headersSizeBound(headers: Headers): number {
  let size = 2;
  for (const key in headers) size += 4 + 3 * (key.length + (headers[key] as string).length);
  return size;
}

/**
 * Overwrite the sequence number of an encoded envelope, in place. For a sender that encodes a frame
 * before it knows when the frame will go out, and numbers it then, so that numbers follow the order
 * frames are sent in and frames never sent take none.
 *
 * @example
 * ```ts
 * setEnvelopeSequence(frame, nextSequence());
 * transport.send(frame);
 * ```
 */
export function setEnvelopeSequence(frame: Uint8Array, sequence: number): void {
  writeU32(frame, 16, sequence >>> 0);
}

/**
 * Check the fixed header of a frame without decoding it: magic, version, kind and that the
 * declared lengths add up to `frameLength`. Throws {@link FrameError}. Used by decoders to reject
 * a frame before allocating anything for it.
 *
 * @example
 * ```ts
 * checkEnvelopeHeader(bytes, bytes.length);
 * ```
 */
export function checkEnvelopeHeader(bytes: Uint8Array, frameLength: number): void {
  if (frameLength < ENVELOPE_HEADER_SIZE || bytes.length < ENVELOPE_HEADER_SIZE) {
    throw new FrameError(`frame of ${frameLength} bytes is shorter than the ${ENVELOPE_HEADER_SIZE}-byte header`);
  }
  const magic = readU16(bytes, 0);
  if (magic !== ENVELOPE_MAGIC) throw new FrameError(`bad magic 0x${magic.toString(16).padStart(4, '0')}`);
  const version = bytes[2] as number;
  if (version !== ENVELOPE_VERSION) throw new FrameError(`unsupported wire-format version ${version}`);
  const kind = bytes[3] as number;
  if (kind < 1 || kind > MAX_KIND) throw new FrameError(`unknown frame kind ${kind}`);
  const encoding = bytes[5] as number;
  if (encoding > MAX_ENCODING) throw new FrameError(`unknown payload encoding ${encoding}`);
  const topicLength = readU16(bytes, 6);
  if (topicLength > MAX_TOPIC_BYTES)
    throw new FrameError(`topic of ${topicLength} bytes is longer than ${MAX_TOPIC_BYTES}`);
  // Origins are below 2^53 so that they are exact as JS numbers (and as dedup keys).
  if (readU32(bytes, 8) > 0x1f_ffff) throw new FrameError('origin is 2^53 or more');
  const declared = ENVELOPE_HEADER_SIZE + topicLength + readU32(bytes, 32) + readU32(bytes, 36);
  if (declared !== frameLength) {
    throw new FrameError(`frame declares ${declared} bytes but carries ${frameLength}`);
  }
  const count = readU32(bytes, 28);
  if (count === 0 || readU32(bytes, 24) >= count) throw new FrameError('bad fragment index or count');
}

/**
 * Decode one frame. Throws {@link FrameError} for anything malformed and
 * {@link FrameTooLargeError} when the frame is over `maxFrameSize`.
 *
 * @example
 * ```ts
 * const env = decodeEnvelope(frame);
 * console.log(env.topic, env.payload.length);
 * ```
 */
export function decodeEnvelope(frame: Uint8Array, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Envelope {
  if (frame.length > maxFrameSize) throw new FrameTooLargeError(frame.length, maxFrameSize);
  checkEnvelopeHeader(frame, frame.length);
  const topicLength = readU16(frame, 6);
  const headersLength = readU32(frame, 32);
  const topicEnd = ENVELOPE_HEADER_SIZE + topicLength;
  const topic = decodeTopic(frame, ENVELOPE_HEADER_SIZE, topicEnd);
  const flags = frame[4] as number;
  const headers = headersLength > 0 ? headersOf(frame, topicEnd, headersLength) : undefined;
  return {
    kind: frame[3] as FrameKind,
    flags,
    encoding: frame[5] as PayloadEncoding,
    origin: readU32(frame, 8) * 0x1_0000_0000 + readU32(frame, 12),
    sequence: readU32(frame, 16),
    correlation: readU32(frame, 20),
    fragmentIndex: readU32(frame, 24),
    fragmentCount: readU32(frame, 28),
    topic,
    headers,
    payload: frame.subarray(topicEnd + headersLength),
  };
}

/** The headers block of `frame` at `start`; every failure is a {@link FrameError}. */
function headersOf(frame: Uint8Array, start: number, length: number): Headers {
  try {
    return decodeHeaders(frame.subarray(start, start + length));
  } catch (cause) {
    throw cause instanceof FrameError ? cause : new FrameError('headers are not valid UTF-8', { cause });
  }
}

/**
 * An {@link Envelope} as {@link readEnvelope} decodes it: the same fields, plus the frame and where
 * the payload starts in it, so that a receiver can decode the payload in place. `payload`, a view
 * made on each read, is for code that wants the bytes as they are.
 */
export class FrameEnvelope implements Envelope {
  constructor(
    readonly frame: Uint8Array,
    /** Offset of the payload in `frame`; it runs to the end of the frame. */
    readonly payloadStart: number,
    readonly kind: FrameKind,
    readonly flags: number,
    readonly encoding: PayloadEncoding,
    readonly origin: number,
    readonly sequence: number,
    readonly correlation: number,
    readonly fragmentIndex: number,
    readonly fragmentCount: number,
    readonly topic: string,
    readonly headers: Headers | undefined,
  ) {}

  /** A view of the payload in `frame`: copy it to keep it beyond the current callback. */
  get payload(): Uint8Array {
    return this.frame.subarray(this.payloadStart);
  }
}

/**
 * {@link decodeEnvelope} for a receiver that decodes the payload in place: the same checks and
 * errors, but no payload view is made unless `payload` is read. What a bus does with every frame.
 * `checkedTopic` is for a frame that has passed {@link checkEnvelopeHeader} and whose topic was
 * decoded already (by a hub's router): neither is done again, the rest (headers) is.
 *
 * @example
 * ```ts
 * const env = readEnvelope(frame);
 * const data = decodePayloadAt(env.encoding, env.frame, env.payloadStart);
 * ```
 */
export function readEnvelope(
  frame: Uint8Array,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
  checkedTopic?: string,
): FrameEnvelope {
  if (frame.length > maxFrameSize) throw new FrameTooLargeError(frame.length, maxFrameSize);
  if (checkedTopic === undefined) checkEnvelopeHeader(frame, frame.length);
  const topicEnd = ENVELOPE_HEADER_SIZE + readU16(frame, 6);
  const headersLength = readU32(frame, 32);
  const topic = checkedTopic ?? decodeTopic(frame, ENVELOPE_HEADER_SIZE, topicEnd);
  const headers = headersLength > 0 ? headersOf(frame, topicEnd, headersLength) : undefined;
  return new FrameEnvelope(
    frame,
    topicEnd + headersLength,
    frame[3] as FrameKind,
    frame[4] as number,
    frame[5] as PayloadEncoding,
    readU32(frame, 8) * 0x1_0000_0000 + readU32(frame, 12),
    readU32(frame, 16),
    readU32(frame, 20),
    readU32(frame, 24),
    readU32(frame, 28),
    topic,
    headers,
  );
}

/**
 * Read just the kind and topic of a frame, for routers that forward by interest without decoding
 * payloads. The frame must already have passed {@link checkEnvelopeHeader}.
 *
 * @example
 * ```ts
 * const { kind, topic } = peekRoute(frame);
 * ```
 */
export function peekRoute(frame: Uint8Array): { kind: FrameKind; origin: number; correlation: number; topic: string } {
  return {
    kind: frame[3] as FrameKind,
    origin: peekOrigin(frame),
    correlation: peekCorrelation(frame),
    topic: peekTopic(frame),
  };
}

/**
 * The correlation id of a frame at least 24 bytes long (0 for kinds that carry none), read
 * without decoding the rest.
 *
 * @example
 * ```ts
 * pendingReplies.get(peekCorrelation(frame));
 * ```
 */
export function peekCorrelation(frame: Uint8Array): number {
  return readU32(frame, 20);
}

/**
 * The origin (sending member) of a frame at least 16 bytes long, read without decoding the rest.
 *
 * @example
 * ```ts
 * if (peekOrigin(frame) === hubMember) trustPeer();
 * ```
 */
export function peekOrigin(frame: Uint8Array): number {
  return readU32(frame, 8) * 0x1_0000_0000 + readU32(frame, 12);
}

/**
 * The topic of a frame that has passed {@link checkEnvelopeHeader}, read without decoding the
 * rest. Throws {@link FrameError} when it is not valid UTF-8.
 *
 * @example
 * ```ts
 * const topic = peekTopic(frame);
 * ```
 */
export function peekTopic(frame: Uint8Array): string {
  return decodeTopic(frame, ENVELOPE_HEADER_SIZE, ENVELOPE_HEADER_SIZE + readU16(frame, 6));
}

/**
 * Where a fragment belongs: the sequence of its message's first fragment (`sequence −
 * fragmentIndex` mod 2^32, which with the origin identifies the message) and how many fragments
 * the message has. The frame must already have passed {@link checkEnvelopeHeader}; for an
 * unfragmented frame this gives its own sequence and 1.
 *
 * @example
 * ```ts
 * const { messageSequence, fragmentCount } = peekFragment(frame);
 * ```
 */
export function peekFragment(frame: Uint8Array): { messageSequence: number; fragmentCount: number } {
  return {
    messageSequence: (readU32(frame, 16) - readU32(frame, 24)) >>> 0,
    fragmentCount: readU32(frame, 28),
  };
}

// --- hot-path helpers -------------------------------------------------------------------------
// Every frame passes through these, so they avoid DataView objects and TextEncoder/TextDecoder
// calls for the common case (short ASCII topics that repeat).

function readU16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

function readU32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) |
      ((b[at + 1] as number) << 16) |
      ((b[at + 2] as number) << 8) |
      (b[at + 3] as number)) >>>
    0
  );
}

function writeU16(b: Uint8Array, at: number, value: number): void {
  b[at] = value >>> 8;
  b[at + 1] = value & 0xff;
}

function writeU32(b: Uint8Array, at: number, value: number): void {
  b[at] = value >>> 24;
  b[at + 1] = (value >>> 16) & 0xff;
  b[at + 2] = (value >>> 8) & 0xff;
  b[at + 3] = value & 0xff;
}

const topicCache = new Map<string, Uint8Array>();

/** The UTF-8 bytes of a topic; topics repeat, so they are cached (bounded). */
function topicBytes(topic: string): Uint8Array {
  // A sender mostly repeats its last topic, and each frame asks twice (to size it, to write it).
  if (topic === lastTopic) return lastTopicBytes;
  let bytes = topicCache.get(topic);
  if (bytes === undefined) {
    bytes = textEncoder.encode(topic);
    if (topicCache.size >= 1024) topicCache.clear();
    topicCache.set(topic, bytes);
  }
  lastTopic = topic;
  lastTopicBytes = bytes;
  return bytes;
}

let lastTopic = '';
let lastTopicBytes: Uint8Array = EMPTY;

/**
 * Short ASCII strings that repeat (topics, header keys), cached by their bytes: a small
 * hash-indexed table, compared byte by byte, so a collision only costs a miss. The string looked
 * up last is compared first, in one pass without hashing: frames in a row mostly share their
 * topic, and at a hub the bus looks up the topic its router has just read from the same frame.
 */
class AsciiCache {
  readonly #bytes: Array<Uint8Array | undefined>;
  readonly #text: string[];
  readonly #mask: number;
  #lastBytes: Uint8Array = new Uint8Array(0);
  #lastText = '';

  constructor(slots: number) {
    this.#bytes = new Array<Uint8Array | undefined>(slots);
    this.#text = new Array<string>(slots);
    this.#mask = slots - 1;
  }

  /** The text of `b` from `start` to `end`, or undefined when it is not ASCII or over 64 bytes. */
  get(b: Uint8Array, start: number, end: number): string | undefined {
    const length = end - start;
    const last = this.#lastBytes;
    if (last.length === length) {
      let i = 0;
      while (i < length && last[i] === b[start + i]) i += 1;
      if (i === length) return this.#lastText;
    }
    if (length > 64) return undefined;
    let hash = length;
    let high = 0;
    for (let i = start; i < end; i += 1) {
      const c = b[i] as number;
      hash = (Math.imul(hash, 31) + c) | 0;
      high |= c;
    }
    if (high >= 0x80) return undefined;
    const slot = hash & this.#mask;
    let cached = this.#bytes[slot];
    let text: string;
    let hit = false;
    if (cached !== undefined && cached.length === length) {
      let i = 0;
      while (i < length && cached[i] === b[start + i]) i += 1;
      hit = i === length;
    }
    if (hit && cached !== undefined) {
      text = this.#text[slot] as string;
    } else {
      text = String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
      // The typed-array slice, a copy even of a Buffer (whose own slice is a view into a buffer
      // the transport reuses, which would change the cached bytes under their text).
      cached = Uint8Array.prototype.slice.call(b, start, end);
      this.#bytes[slot] = cached;
      this.#text[slot] = text;
    }
    this.#lastBytes = cached;
    this.#lastText = text;
    return text;
  }
}

const topics = new AsciiCache(256);
const headerKeys = new AsciiCache(64);

/**
 * Decode a topic. Every frame is routed and delivered by topic, and topics repeat, so short ASCII
 * topics come from a cache ({@link AsciiCache}); anything else goes through the strict UTF-8
 * decoder.
 */
function decodeTopic(b: Uint8Array, start: number, end: number): string {
  const cached = topics.get(b, start, end);
  if (cached !== undefined) return cached;
  try {
    return textDecoder.decode(b.subarray(start, end));
  } catch (cause) {
    // A router must be able to drop one bad frame by its typed error, not by a TypeError.
    throw new FrameError('topic is not valid UTF-8', { cause });
  }
}
