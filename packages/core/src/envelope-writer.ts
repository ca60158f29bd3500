/**
 * The {@link FrameWriter} a bus hands to `Transport.sendInPlace`: one per bus, armed with the
 * envelope being sent just before each call.
 *
 * @module
 */
import { type EnvelopeInit, envelopeSize, writeEnvelope } from './envelope.js';
import type { FrameWriter } from './transport.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Writes the envelope it was armed with, once, where the transport asks. Reused from one send to
 * the next, fields and all (a writer or an envelope object per frame would be the very allocation
 * in-place sending saves), which is safe because a transport calls `writeFrame` before
 * `sendInPlace` returns.
 *
 * @example
 * ```ts
 * const writer = new EnvelopeWriter();
 * const size = writer.arm(init, memberId, sequence);
 * try {
 *   transport.sendInPlace(size, writer);
 * } finally {
 *   writer.disarm();
 * }
 * ```
 */
export class EnvelopeWriter implements FrameWriter {
  readonly #envelope: Writable<EnvelopeInit> = {
    kind: 1,
    origin: 0,
    sequence: 0,
    topic: '',
    encoding: undefined,
    correlation: undefined,
    headers: undefined,
    payload: undefined,
    payloadHead: undefined,
    last: undefined,
  };
  #armed = false;

  /** Take the envelope of `init` from `origin`, numbered `sequence`; returns its size in bytes. */
  arm(init: Omit<EnvelopeInit, 'origin' | 'sequence'>, origin: number, sequence: number): number {
    const envelope = this.#envelope;
    envelope.kind = init.kind;
    envelope.origin = origin;
    envelope.sequence = sequence;
    envelope.topic = init.topic;
    envelope.encoding = init.encoding;
    envelope.correlation = init.correlation;
    envelope.headers = init.headers;
    envelope.payload = init.payload;
    envelope.payloadHead = init.payloadHead;
    envelope.last = init.last;
    this.#armed = true;
    return envelopeSize(envelope);
  }

  /** Forget the envelope (and the caller's payload with it) once the send returned. */
  disarm(): void {
    this.#armed = false;
    this.#envelope.payload = undefined;
    this.#envelope.payloadHead = undefined;
    this.#envelope.headers = undefined;
  }

  writeFrame(target: Uint8Array, offset: number): void {
    // A transport that called back after sendInPlace returned would write some later frame.
    if (!this.#armed) throw new Error('EnvelopeWriter.writeFrame called outside sendInPlace');
    this.#armed = false;
    writeEnvelope(target, offset, this.#envelope);
  }
}
