/**
 * A frame link over a connected stream socket: length-prefixed frames in both directions, with
 * the limits that keep one bad peer from hurting anyone else.
 *
 * @module
 */
import type { Socket } from 'node:net';
import {
  BufferFullError,
  ClosedError,
  FrameTooLargeError,
  DEFAULT_MAX_FRAME_SIZE,
  type PeerIdentity,
} from '@busway/core';
import { FrameDecoder, LENGTH_PREFIX_SIZE, type FrameLink, type FrameLinkSink } from '@busway/core/internal';
import { StalledFrameError } from './errors.js';

/** Limits of a {@link SocketFrameLink}. */
export interface SocketFrameLinkOptions {
  /** Largest frame accepted or sent, in bytes, prefix excluded. Default: 16 MiB (`DEFAULT_MAX_FRAME_SIZE`). */
  readonly maxFrameSize: number;
  /**
   * How long a peer may stay silent in the middle of a frame before the link is dropped, in
   * milliseconds. Default: 5000.
   */
  readonly stallTimeout: number;
  /**
   * Bytes that may wait for the kernel: once more than this is queued, `send` refuses with
   * `BufferFullError` (a hub then drops that slow member). Default: 8 MiB.
   */
  readonly maxWriteBuffer: number;
}

const DEFAULTS: SocketFrameLinkOptions = {
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  stallTimeout: 5000,
  maxWriteBuffer: 8 * 1024 * 1024,
};

/** Frames smaller than this are copied into one batch buffer; larger ones are written as they are. */
const COALESCE_LIMIT = 64 * 1024;

/**
 * Length-prefixed frames over a `net.Socket` (a Unix socket here; any stream socket works).
 *
 * Frames sent in one turn of the event loop are coalesced into a single write, which is what lets
 * small messages go faster than one `socket.write` each. Incoming bytes go through core's
 * `FrameDecoder`, which checks every announced length before allocating; garbage, an oversized
 * length, or a frame left half-written for `stallTimeout` closes this link only, with the reason.
 *
 * It implements core's `FrameLink`: nothing is read from the socket before `start`, so no frame
 * can be lost between hand-out and start; a close that happens before `start` is reported by it.
 *
 * @example
 * ```ts
 * const link = new SocketFrameLink(socket, { maxFrameSize: 1 << 20 });
 * link.start({ onFrame: (frame) => console.log(frame.length), onClose: (err) => console.log('closed', err) });
 * link.send(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 1, topic: 'a' }));
 * ```
 */
export class SocketFrameLink implements FrameLink {
  /** The process at the other end, as the OS reported it, when known. */
  readonly peer: PeerIdentity | undefined;

  readonly #socket: Socket;
  readonly #options: SocketFrameLinkOptions;
  readonly #decoder: FrameDecoder;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #flushScheduled = false;
  #stallTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #sink: FrameLinkSink | undefined;
  /** Why the link closed before `start`, reported once `start` gives us a sink. */
  #earlyClose: { reason: Error | undefined } | undefined;
  readonly #deliver = (frame: Uint8Array): void => this.#sink?.onFrame(frame);

  constructor(socket: Socket, options: Readonly<Partial<SocketFrameLinkOptions>> = {}, peer?: PeerIdentity) {
    this.#socket = socket;
    this.#options = { ...DEFAULTS, ...options };
    this.#decoder = new FrameDecoder({ maxFrameSize: this.#options.maxFrameSize });
    this.peer = peer;
    // Paused until start: Node then reads at most one stream buffer ahead of the consumer and
    // keeps it, so nothing is lost.
    socket.pause();
    socket.on('error', (err) => this.#finish(err));
    socket.on('close', () => this.#finish(undefined));
    // Half-close from the peer: it will send nothing more, and a link is not useful one-way.
    socket.on('end', () => this.#finish(undefined));
  }

  /** Begin delivering frames (and the close) to `sink`. Call once. */
  start(sink: FrameLinkSink): void {
    if (this.#sink !== undefined) throw new Error('SocketFrameLink.start called twice');
    this.#sink = sink;
    if (this.#earlyClose !== undefined) {
      sink.onClose(this.#earlyClose.reason);
      return;
    }
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#socket.resume();
  }

  /** True once the link is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes accepted by `send` and not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.#batchBytes + this.#socket.writableLength;
  }

  /** The same as {@link SocketFrameLink.pendingBytes}, under the name core's `FrameLink` reads. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Queue one frame. Throws `ClosedError` after close, `FrameTooLargeError` above `maxFrameSize`,
   * and `BufferFullError` when more than `maxWriteBuffer` bytes are already waiting (nothing is
   * queued then).
   */
  send(frame: Uint8Array): void {
    if (this.#closed) throw new ClosedError('the link is closed');
    if (frame.length > this.#options.maxFrameSize)
      throw new FrameTooLargeError(frame.length, this.#options.maxFrameSize);
    // Refused only once the queue is already over its bound (core's FrameLink contract): a
    // single frame larger than the bound (up to maxFrameSize) still goes out on an idle link.
    if (this.pendingBytes > this.#options.maxWriteBuffer) throw new BufferFullError(this.#options.maxWriteBuffer);
    const size = LENGTH_PREFIX_SIZE + frame.length;
    const prefix = new Uint8Array(LENGTH_PREFIX_SIZE);
    new DataView(prefix.buffer).setUint32(0, frame.length);
    this.#batch.push(prefix, frame);
    this.#batchBytes += size;
    // The first frame of an event-loop turn is written at once: a lone request or reply waits for
    // nothing. Frames that follow in the same turn (a burst, or publishes separated only by
    // awaits, which a microtask flush would still send one by one) are gathered and written
    // together when the turn ends (setImmediate), or as soon as a batch reaches COALESCE_LIMIT.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#endTurn);
      this.#flush();
    } else if (this.#batchBytes >= COALESCE_LIMIT) {
      this.#flush();
    }
  }

  /** Close the link; `reason` is passed to the sink's `onClose`. Idempotent. */
  close(reason?: Error): void {
    if (this.#closed) return;
    this.#flush();
    if (reason === undefined) this.#socket.end();
    else this.#socket.destroy();
    this.#finish(reason);
  }

  readonly #endTurn = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#batch.length === 0 || this.#closed) return;
    const parts = this.#batch;
    const total = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    if (total <= COALESCE_LIMIT || parts.length === 2) {
      // One buffer, one write syscall. A single large frame is the exception: written as prefix
      // and frame under cork, so its bytes are not copied.
      if (parts.length === 2 && total > COALESCE_LIMIT) {
        this.#socket.cork();
        this.#socket.write(parts[0] as Uint8Array);
        this.#socket.write(parts[1] as Uint8Array);
        this.#socket.uncork();
        return;
      }
      this.#socket.write(Buffer.concat(parts, total));
      return;
    }
    this.#socket.cork();
    let run: Uint8Array[] = [];
    let runBytes = 0;
    for (const part of parts) {
      if (part.length > COALESCE_LIMIT) {
        if (run.length > 0) this.#socket.write(Buffer.concat(run, runBytes));
        run = [];
        runBytes = 0;
        this.#socket.write(part);
      } else {
        run.push(part);
        runBytes += part.length;
      }
    }
    if (run.length > 0) this.#socket.write(Buffer.concat(run, runBytes));
    this.#socket.uncork();
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(chunk, this.#deliver);
    } catch (err) {
      // Garbage or an oversized length: the stream position is lost, so only dropping the link
      // is safe. The decoder allocated nothing for the bad frame.
      this.close(err as Error);
      return;
    }
    this.#armStallTimer();
  }

  #armStallTimer(): void {
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    if (this.#decoder.buffered === 0 || this.#closed) return;
    // Restarted on every chunk: the bound is on silence mid-frame, so a large frame arriving
    // slowly but steadily is fine while a peer that stops halfway is dropped.
    const received = this.#decoder.buffered;
    this.#stallTimer = setTimeout(
      () => this.close(new StalledFrameError(received, this.#options.stallTimeout)),
      this.#options.stallTimeout,
    );
    this.#stallTimer.unref();
  }

  #finish(reason: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#batch = [];
    this.#batchBytes = 0;
    if (!this.#socket.destroyed && reason !== undefined) this.#socket.destroy();
    if (this.#sink === undefined) this.#earlyClose = { reason };
    else this.#sink.onClose(reason);
  }
}
