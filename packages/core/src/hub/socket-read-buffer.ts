/**
 * {@link SocketReadBuffer}: one reusable read buffer for a socket created with Node's `onread`
 * option, and whoever consumes its bytes at the moment (a handshake, then a {@link StreamFrameLink}).
 *
 * @module
 */
import { ConfigurationError } from '../errors.js';

/**
 * Receives the bytes of one read. They are a view into the reused buffer, valid only during the
 * call: whatever is kept must be copied.
 */
export type ReadConsumer = (bytes: Uint8Array) => void;

/** The `onread` option of `net.connect`, `tls.connect` and `new net.Socket` (Node's `OnReadOpts`). */
export interface OnReadOption {
  readonly buffer: Uint8Array;
  readonly callback: (nread: number, buffer: Uint8Array) => boolean;
}

/**
 * Node's read size for a stream socket (libuv suggests 64 KiB per read), and the default here:
 * one read fills at most what a `'data'` chunk would have held, so reads are not split more finely
 * than before, and a larger buffer would only hold memory per connection that a burst rarely fills.
 */
export const DEFAULT_READ_BUFFER_SIZE = 64 * 1024;

/**
 * The reads of a socket, into one buffer reused for its whole life. Pass {@link onread} as the
 * `onread` option when the socket is created (`net.connect`, `tls.connect`, `new net.Socket`);
 * the socket then emits no `'data'` and allocates nothing per read: each read is handed, as a
 * view, to the consumer set with {@link consume}. That saves the `Readable` machinery and a
 * `Buffer` per read, a few microseconds of CPU per loopback round trip. `'error'`, `'end'` and
 * `'close'` are emitted as usual, and `pause()` / `resume()` stop and restart reading.
 *
 * Bytes read while nobody consumes (between connect and the first consumer, or between a
 * handshake and the link that follows it) are not lost: they are copied aside, reading stops, and
 * the next consumer gets them first, as soon as it is set.
 *
 * A view handed out is overwritten by the next read, which may come before the end of the turn
 * (libuv reads several times per wake-up while data is waiting). So only a consumer that copies
 * whatever it keeps may read through this, and everything downstream must do the same: a
 * member's link to its own bus qualifies (the bus copies what it keeps); a hub's link does not,
 * because the hub forwards frames to other links' `send`, which may keep them until the end of the turn.
 *
 * @example
 * ```ts
 * import { connect } from 'node:net';
 * import { SocketReadBuffer, StreamFrameLink } from '@busway/core/internal';
 *
 * const reads = new SocketReadBuffer();
 * const socket = connect({ path: '/run/user/1000/busway/orders.sock', onread: reads.onread });
 * socket.once('connect', () => {
 *   const link = new StreamFrameLink(socket, { reads });
 *   link.start({ onFrame: (frame) => console.log(frame.length), onClose: () => undefined });
 * });
 * ```
 */
export class SocketReadBuffer {
  /** The value to give as the socket's `onread` option. */
  readonly onread: OnReadOption;
  #consumer: ReadConsumer | undefined;
  /** Copies of reads that came while nobody consumed, oldest first. */
  #held: Uint8Array[] = [];

  /**
   * @param size - Bytes read at most at once. Default: 64 KiB (`DEFAULT_READ_BUFFER_SIZE`).
   */
  constructor(size: number = DEFAULT_READ_BUFFER_SIZE) {
    if (!Number.isInteger(size) || size < 1) {
      throw new ConfigurationError(`a read buffer must hold at least one byte, got ${size}`);
    }
    // A plain Uint8Array, not a Buffer: the decoder's per-frame views are cheaper on it.
    const buffer = new Uint8Array(size);
    this.onread = {
      buffer,
      callback: (nread: number): boolean => {
        const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, nread);
        const consumer = this.#consumer;
        if (consumer === undefined) {
          // Nobody to take them: keep a copy and stop reading (returning false makes Node stop
          // reading, as pause() would) until a consumer comes and the socket is resumed.
          this.#held.push(bytes.slice());
          return false;
        }
        consumer(bytes);
        return true;
      },
    };
  }

  /** Bytes read and held for the next consumer. */
  get heldBytes(): number {
    let total = 0;
    for (const bytes of this.#held) total += bytes.length;
    return total;
  }

  /**
   * Hand reads to `consumer` from now on, first those held since the last consumer left
   * (synchronously, before this returns); `undefined` leaves reads to be held. Resuming the
   * socket is the caller's business.
   *
   * @example
   * ```ts
   * reads.consume((bytes) => decoder.push(bytes, onFrame));
   * socket.resume();
   * ```
   */
  consume(consumer: ReadConsumer | undefined): void {
    this.#consumer = consumer;
    // One at a time, re-reading the consumer: it may step aside (a handshake that has read enough).
    while (this.#consumer !== undefined && this.#held.length > 0) {
      this.#consumer(this.#held.shift() as Uint8Array);
    }
  }
}
