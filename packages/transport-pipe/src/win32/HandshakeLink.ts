/**
 * busway's pipe handshake, and the link a hub gets once it is done.
 *
 * @module
 */
import type { PeerIdentity } from '@busway/core';
import { encodeEnvelope, FrameKind, type FrameLink, type FrameLinkSink } from '@busway/core/internal';

// Hello/welcome are ordinary envelopes (kind Hello, origin 0, a fixed topic), so they pass the
// same FrameDecoder checks as every frame and need no second parser on the hub.
/** The first frame a member sends on a hub pipe. */
export const PIPE_HELLO = encodeEnvelope({
  kind: FrameKind.Hello,
  origin: 0,
  sequence: 0,
  topic: '_busway.pipe/1.hello',
});
/** The hub's answer to {@link PIPE_HELLO}. */
export const PIPE_WELCOME = encodeEnvelope({
  kind: FrameKind.Hello,
  origin: 0,
  sequence: 0,
  topic: '_busway.pipe/1.welcome',
});

/**
 * True when `frame` is exactly `expected`.
 *
 * @example
 * ```ts
 * sameBytes(frame, PIPE_HELLO);
 * ```
 */
export function sameBytes(frame: Uint8Array, expected: Uint8Array): boolean {
  if (frame.length !== expected.length) return false;
  for (let i = 0; i < expected.length; i += 1) if (frame[i] !== expected[i]) return false;
  return true;
}

/**
 * Wraps a link whose first frames belonged to the handshake: the endpoint starts the inner link
 * with {@link HandshakeLink.sink} to run the handshake, then hands this out; frames that arrive
 * before the hub calls `start` are held (copied, in order) and delivered then.
 *
 * @example
 * ```ts
 * const link = new HandshakeLink(inner);
 * inner.start({ onFrame: (f) => (greeted ? link.sink.onFrame(f) : check(f)), onClose: link.sink.onClose });
 * ```
 */
export class HandshakeLink implements FrameLink {
  readonly peer: PeerIdentity | undefined;
  readonly #inner: FrameLink;
  #target: FrameLinkSink | undefined;
  #held: Uint8Array[] = [];
  #closed: { error: Error | undefined } | undefined;

  /** Where the inner link's frames go after the handshake. */
  readonly sink: FrameLinkSink = {
    onFrame: (frame) => {
      // Held frames are copied: the inner link may hand out views into a buffer it reuses.
      if (this.#target === undefined) this.#held.push(frame.slice());
      else this.#target.onFrame(frame);
    },
    onClose: (error) => {
      if (this.#target === undefined) this.#closed = { error };
      else this.#target.onClose(error);
    },
  };

  constructor(inner: FrameLink) {
    this.#inner = inner;
    this.peer = inner.peer;
  }

  /** Deliver held frames, then live ones, and the close, to `sink`. Once. */
  start(sink: FrameLinkSink): void {
    if (this.#target !== undefined) throw new Error('HandshakeLink.start called twice');
    this.#target = sink;
    const held = this.#held;
    this.#held = [];
    for (const frame of held) sink.onFrame(frame);
    if (this.#closed !== undefined) sink.onClose(this.#closed.error);
  }

  /** The inner link's queued bytes, when it can tell. */
  get queuedBytes(): number | undefined {
    return this.#inner.queuedBytes;
  }

  /** Send one frame on the inner link. */
  send(frame: Uint8Array): void {
    this.#inner.send(frame);
  }

  /** Close the inner link. Idempotent. */
  close(error?: Error): void {
    this.#inner.close(error);
  }
}
