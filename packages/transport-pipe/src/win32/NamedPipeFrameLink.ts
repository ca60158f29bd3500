/**
 * A busway hub link over a message-mode pipe connection, past busway's handshake.
 *
 * @module
 */
import type { PeerIdentity } from '@busway/core';
import type { FrameLink, FrameLinkSink } from '@busway/core/internal';
import type { NamedPipeConnection } from './NamedPipeConnection.js';

/** The first message a member sends on a hub pipe. */
export const PIPE_HELLO = new TextEncoder().encode('busway-pipe/1 hello');
/** The hub's answer to {@link PIPE_HELLO}. */
export const PIPE_WELCOME = new TextEncoder().encode('busway-pipe/1 welcome');

/**
 * True when `message` is exactly `expected`.
 *
 * @example
 * ```ts
 * sameBytes(message, PIPE_HELLO);
 * ```
 */
export function sameBytes(message: Uint8Array, expected: Uint8Array): boolean {
  if (message.length !== expected.length) return false;
  for (let i = 0; i < expected.length; i += 1) if (message[i] !== expected[i]) return false;
  return true;
}

/**
 * One busway frame per pipe message: message mode keeps the boundaries, so no length prefix is
 * needed. Created by `NamedPipeEndpoint` once the handshake is done; frames that arrive before
 * the hub calls `start` are held (in order) and handed over then.
 *
 * @example
 * ```ts
 * const link = new NamedPipeFrameLink(connection);
 * connection.start(link.sink);
 * link.start({ onFrame: route, onClose: drop });
 * ```
 */
export class NamedPipeFrameLink implements FrameLink {
  readonly peer: PeerIdentity | undefined;
  readonly #connection: NamedPipeConnection;
  #target: FrameLinkSink | undefined;
  #held: Uint8Array[] = [];
  #closed: { error: Error | undefined } | undefined;

  /** What the connection delivers to: forwards to the started sink, or holds until then. */
  readonly sink: FrameLinkSink = {
    onFrame: (frame) => {
      if (this.#target === undefined) this.#held.push(frame);
      else this.#target.onFrame(frame);
    },
    onClose: (error) => {
      if (this.#target === undefined) this.#closed = { error };
      else this.#target.onClose(error);
    },
  };

  constructor(connection: NamedPipeConnection) {
    this.#connection = connection;
    this.peer = connection.peer;
  }

  /** Deliver frames (held ones first) and the close to `sink`. Once. */
  start(sink: FrameLinkSink): void {
    if (this.#target !== undefined) throw new Error('NamedPipeFrameLink.start called twice');
    this.#target = sink;
    const held = this.#held;
    this.#held = [];
    for (const frame of held) sink.onFrame(frame);
    if (this.#closed !== undefined) sink.onClose(this.#closed.error);
  }

  /** Send one frame as one pipe message. Throws as `NamedPipeConnection.send` does. */
  send(frame: Uint8Array): void {
    this.#connection.send(frame);
  }

  /** Close the pipe connection. Idempotent. */
  close(error?: Error): void {
    this.#connection.close(error);
  }
}
