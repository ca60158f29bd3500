/**
 * Splits a message too large for a transport's frame into fragments; {@link Reassembler} puts it
 * back together on the receiving side.
 *
 * @module
 */
import { encodeEnvelope, ENVELOPE_HEADER_SIZE, type EnvelopeInit, wholePayload } from './envelope.js';
import { FrameError, FrameTooLargeError } from './errors.js';

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

/**
 * Encode a message as one frame when it fits in `maxFrameSize`, otherwise as N fragment frames,
 * each at most `maxFrameSize` bytes.
 *
 * Fragment 0 (or the only frame) carries `init.sequence`; every further fragment takes the next
 * number from `nextSequence()`, which must return consecutive sequences (mod 2^32) because the
 * receiver identifies a message by `sequence - fragmentIndex`. Every fragment carries the same
 * kind, topic, correlation and encoding, with `fragmentIndex`/`fragmentCount` set; the headers
 * ride on fragment 0 only. Payload slices are copied into their frames, so `init.payload` may be
 * reused once this returns.
 *
 * Throws {@link FrameTooLargeError} when not even one payload byte fits beside the header,
 * topic and headers.
 *
 * @example
 * ```ts
 * let seq = 0;
 * const frames = fragmentEnvelope(
 *   { kind: FrameKind.Publish, origin: 7, sequence: seq, topic: 'files.upload', payload: big },
 *   64 * 1024,
 *   () => (seq = (seq + 1) >>> 0),
 * );
 * for (const frame of frames) await transport.send(frame);
 * ```
 */
export function fragmentEnvelope(init: EnvelopeInit, maxFrameSize: number, nextSequence: () => number): Uint8Array[] {
  const payload = wholePayload(init);
  // Encoding the envelope without its payload measures header + topic + headers exactly, and
  // validates topic and headers once, before any large allocation.
  const bare = encodeEnvelope({ ...init, payload: EMPTY, payloadHead: undefined, fragmentIndex: 0, fragmentCount: 1 });
  if (bare.length + payload.length <= maxFrameSize)
    return [encodeEnvelope({ ...init, fragmentIndex: 0, fragmentCount: 1 })];

  const topicBytes = textEncoder.encode(init.topic).length;
  const firstRoom = maxFrameSize - bare.length;
  const room = maxFrameSize - ENVELOPE_HEADER_SIZE - topicBytes;
  if (firstRoom < 1) throw new FrameTooLargeError(bare.length + 1, maxFrameSize);
  const count = 1 + Math.ceil((payload.length - firstRoom) / room);
  if (count > 0xffff_ffff) throw new FrameTooLargeError(payload.length, room * 0xffff_ffff);

  const first = init.sequence >>> 0;
  const frames: Uint8Array[] = [];
  let at = 0;
  for (let index = 0; index < count; index += 1) {
    let sequence = first;
    if (index > 0) {
      sequence = nextSequence() >>> 0;
      if (sequence !== (first + index) >>> 0) {
        throw new FrameError(
          `nextSequence() returned ${sequence}, expected ${(first + index) >>> 0}: fragments need consecutive sequences`,
        );
      }
    }
    const take = Math.min(index === 0 ? firstRoom : room, payload.length - at);
    frames.push(
      encodeEnvelope({
        kind: init.kind,
        origin: init.origin,
        sequence,
        topic: init.topic,
        encoding: init.encoding,
        correlation: init.correlation,
        fragmentIndex: index,
        fragmentCount: count,
        headers: index === 0 ? init.headers : undefined,
        last: init.last,
        payload: payload.subarray(at, at + take),
      }),
    );
    at += take;
  }
  return frames;
}
