import { BufferFullError } from '../errors.js';

/**
 * Frames accepted while a transport has no link, held in order until it has one again. Bounded
 * in bytes: a frame that would take it over the bound is refused with `BufferFullError`, so a
 * long outage costs at most the bound in memory and the publisher learns, rather than losing
 * frames silently.
 *
 * @example
 * ```ts
 * const pending = new OutboundBuffer(8 * 1024 * 1024);
 * pending.push(frame);              // throws BufferFullError once 8 MiB are waiting
 * pending.drain((f) => link.send(f));
 * ```
 */
export class OutboundBuffer {
  readonly #limit: number;
  #frames: Uint8Array[] = [];
  #bytes = 0;

  /** @param limit - Most bytes held at once. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Bytes currently held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Frames currently held. */
  get length(): number {
    return this.#frames.length;
  }

  /** Hold one frame; throws `BufferFullError` (holding nothing) when it would pass the bound. */
  push(frame: Uint8Array): void {
    if (this.#bytes + frame.length > this.#limit) throw new BufferFullError(this.#limit);
    this.#frames.push(frame);
    this.#bytes += frame.length;
  }

  /**
   * Hand every held frame to `send`, oldest first. If `send` throws, the frames not yet sent
   * (that one included) stay held and the error propagates.
   */
  drain(send: (frame: Uint8Array) => void): void {
    const frames = this.#frames;
    let i = 0;
    try {
      for (; i < frames.length; i += 1) {
        send(frames[i] as Uint8Array);
        this.#bytes -= (frames[i] as Uint8Array).length;
      }
      this.#frames = [];
    } finally {
      if (i < frames.length) this.#frames = frames.slice(i);
    }
  }

  /** Drop everything held (on close). Returns how many frames were dropped. */
  clear(): number {
    const n = this.#frames.length;
    this.#frames = [];
    this.#bytes = 0;
    return n;
  }
}
