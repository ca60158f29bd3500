/**
 * {@link StreamFrameLink}: the one {@link FrameLink} over a connected stream socket (TCP, TLS, a
 * Unix domain socket): 4-byte big-endian length prefix out, {@link FrameDecoder} in. Every
 * socket-based hub transport hands these out, so batching, limits and close reasons behave the
 * same on all of them.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { allocateBytes } from '../byte-slab.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../envelope.js';
import { BufferFullError, ClosedError, FrameTooLargeError } from '../errors.js';
import { FrameDecoder, LENGTH_PREFIX_SIZE, writeLengthPrefix } from '../frame-decoder.js';
import type { FrameWriter, PeerIdentity } from '../transport.js';
import type { FrameLink, FrameLinkSink } from './frame-link.js';
import type { SocketReadBuffer } from './socket-read-buffer.js';
import { StalledFrameError } from './stalled-frame-error.js';

/** Options of a {@link StreamFrameLink}. */
export type StreamFrameLinkOptions = Readonly<
  Partial<{
    /**
     * Largest frame accepted or sent, in bytes, length prefix excluded. A larger announced length
     * closes the link with `FrameTooLargeError` before anything is allocated for it; a larger
     * frame given to `send` is refused with the same error. Default: `DEFAULT_MAX_FRAME_SIZE` (16 MiB).
     */
    maxFrameSize: number;
    /**
     * A frame, once its first byte has arrived, must be complete within this many milliseconds or
     * the link is closed with {@link StalledFrameError} (slowloris defence: a peer trickling bytes
     * never gets to hold a frame buffer open for longer). Default: 30 000.
     */
    frameTimeout: number;
    /**
     * Bytes accepted by `send` and not yet taken by the kernel; once more than this is queued,
     * `send` throws `BufferFullError` (a hub then drops that slow member). Default: 8 MiB.
     */
    writeBufferLimit: number;
    /**
     * Bytes already read from the socket, ahead of the frames (what a handshake read past its own
     * end): decoded as the start of the frame stream at `start`. Default: none.
     */
    leftover: Uint8Array;
    /**
     * Who is at the other end (e.g. a Unix socket's `SO_PEERCRED`). Default: `address: host:port`
     * when the socket has a remote address (TCP, TLS), otherwise undefined.
     */
    peer: PeerIdentity;
    /**
     * The socket was created with this buffer's `onread` option: frames are decoded from its
     * reads, and a frame whole within one read is a view into the reused buffer, valid only
     * during `onFrame` (a sink that keeps one must copy it; a hub's router does not, so hand this
     * only to a link whose frames go to a bus). Default: none, the socket's `'data'` chunks are
     * decoded, each a buffer of its own.
     */
    reads: SocketReadBuffer;
  }>
>;

const DEFAULTS = {
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  frameTimeout: 30_000,
  writeBufferLimit: 8 * 1024 * 1024,
} as const;

/**
 * Batch size at which queued frames are written without waiting for the end of the turn, and the
 * frame size from which a frame is written as it is (prefix and frame under cork) instead of
 * being copied into a batch: copying more than this costs more than the syscall it saves.
 */
const COALESCE_BYTES = 64 * 1024;

/** Bound on an orderly goodbye: a peer that never reads would otherwise keep the socket half-open. */
const CLOSE_GRACE_MS = 2000;

/**
 * Length-prefixed frames over a connected `net.Socket` or `tls.TLSSocket` (past any handshake).
 *
 * Writing: a frame sent when the socket has nothing queued, and nothing has been written at once
 * since the link last read or flushed, is written at once: a lone request or reply should not
 * wait for the end of the turn (that wait cost a third of a loopback round trip). Frames sent
 * after it are copied, each behind its prefix, into one buffer and written with a single `write`
 * in `setImmediate`, so a burst of small messages costs two syscalls instead of one per message.
 * `setImmediate` rather than a microtask so that a publisher looping on `await publish()` still
 * coalesces. The end-of-turn task is scheduled only once a second frame comes: scheduling it for
 * every lone frame kept each side of a request/reply ping-pong one loop iteration busier, 8 µs of
 * a 44 µs loopback round trip. A batch that reaches 64 KiB is written at once, and a frame of
 * 64 KiB or more is written without being copied.
 *
 * Reading: nothing is read before `start` (the socket is paused), so no frame is lost between
 * hand-out and start. Incoming bytes go through core's `FrameDecoder`, which checks every
 * announced length before allocating; garbage, an oversized length, or a frame not finished
 * within `frameTimeout` closes this link only, with that error as the close reason. The bytes
 * come from the socket's `'data'` chunks, or, with the `reads` option, from one reused read
 * buffer ({@link SocketReadBuffer}): then a frame handed to `onFrame` is valid during that call
 * only, as the `FrameLinkSink` contract says of every link.
 *
 * Closing: `close()` lets queued frames leave (`end`, bounded to 2 s), `close(error)` drops them
 * (`destroy`). `onClose` is called once the socket is really gone, with the first error seen.
 *
 * @example
 * ```ts
 * import { connect } from 'node:net';
 * import { StreamFrameLink } from '@busway/core/internal';
 *
 * const socket = connect('/run/user/1000/busway/orders.sock');
 * socket.once('connect', () => {
 *   const link = new StreamFrameLink(socket, { maxFrameSize: 1 << 20, frameTimeout: 5000 });
 *   link.start({ onFrame: (frame) => console.log(frame.length), onClose: (err) => console.log('closed', err) });
 *   link.send(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 1, topic: 'a' }));
 * });
 * ```
 */
export class StreamFrameLink implements FrameLink {
  /** Who is at the other end, when known (see the `peer` option). */
  readonly peer: PeerIdentity | undefined;
  /** Every frame comes out of a `FrameDecoder`, which has checked its header. */
  readonly checksFrames = true;

  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #maxFrameSize: number;
  readonly #frameTimeout: number;
  readonly #writeBufferLimit: number;
  /** Frames waiting for the end of the turn, and their bytes with prefixes. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  /**
   * A frame went out at once and neither a read nor the end-of-turn task has happened since:
   * further frames wait for the end of the turn, so a burst is not written one frame at a time.
   */
  #wroteAtOnce = false;
  #sink: FrameLinkSink | undefined;
  #leftover: Uint8Array | undefined;
  readonly #reads: SocketReadBuffer | undefined;
  #frameTimer: ReturnType<typeof setTimeout> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #closeError: Error | undefined;
  #closeReported = false;
  /** Frames completed so far: tells whether a partial frame after a push is a new one. */
  #completed = 0;
  readonly #onFrame = (frame: Uint8Array): void => {
    this.#completed += 1;
    this.#sink?.onFrame(frame);
  };

  /**
   * @param socket - Connected (and past any handshake). It is paused here and resumed by `start`.
   * @param options - Limits, leftover bytes and peer identity; see {@link StreamFrameLinkOptions}.
   */
  constructor(socket: Socket, options: StreamFrameLinkOptions = {}) {
    this.#socket = socket;
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULTS.maxFrameSize;
    this.#frameTimeout = options.frameTimeout ?? DEFAULTS.frameTimeout;
    this.#writeBufferLimit = options.writeBufferLimit ?? DEFAULTS.writeBufferLimit;
    this.#decoder = new FrameDecoder({ maxFrameSize: this.#maxFrameSize });
    this.#leftover = options.leftover !== undefined && options.leftover.length > 0 ? options.leftover : undefined;
    this.#reads = options.reads;
    this.peer =
      options.peer ??
      (socket.remoteAddress === undefined ? undefined : { address: `${socket.remoteAddress}:${socket.remotePort}` });
    // Paused until start: Node then reads at most one stream buffer ahead and keeps it.
    socket.pause();
    // Nagle would hold a lone small frame back for an ACK: latency, not throughput, is what it
    // costs us. Both calls are no-ops on a Unix socket.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('error', (err) => {
      this.#closeError ??= err;
    });
    // Half-close from the peer: it will send nothing more, and a link is not useful one-way.
    socket.on('end', () => this.#stop());
    socket.on('close', () => {
      this.#stop();
      if (this.#sink !== undefined) this.#reportClose();
    });
  }

  /** True once the link is closed, by either side. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes accepted by `send` but not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.#pendingBytes + this.#socket.writableLength;
  }

  /** Begin delivering frames (and the close) to `sink`: leftover bytes first. Call once. */
  start(sink: FrameLinkSink): void {
    if (this.#sink !== undefined) throw new Error('StreamFrameLink.start called twice');
    this.#sink = sink;
    if (this.#closed) {
      this.#reportClose();
      return;
    }
    const leftover = this.#leftover;
    this.#leftover = undefined;
    if (leftover !== undefined) this.#onData(plain(leftover));
    // Reads held since the socket connected (or since a handshake stepped aside) come first.
    if (this.#reads !== undefined) this.#reads.consume(this.#onRead);
    else this.#socket.on('data', (chunk: Buffer) => this.#onData(plain(chunk)));
    this.#socket.resume();
  }

  /**
   * Queue one frame. Throws `ClosedError` after close, `FrameTooLargeError` above `maxFrameSize`,
   * and `BufferFullError` when more than `writeBufferLimit` bytes are already waiting (nothing is
   * queued then).
   */
  send(frame: Uint8Array): void {
    this.#checkSend(frame.length);
    this.#enqueue(frame);
  }

  /** `send` past its checks: out at once, at the end of the turn, or now if the batch is full. */
  #enqueue(frame: Uint8Array): void {
    if (frame.length >= COALESCE_BYTES) {
      // Order: what was queued before goes first. Cork so prefix and frame leave in one syscall.
      this.#flush();
      const socket = this.#socket;
      socket.cork();
      socket.write(prefix(frame.length));
      socket.write(frame);
      socket.uncork();
      return;
    }
    if (this.#writesAtOnce()) {
      this.#write([frame], LENGTH_PREFIX_SIZE + frame.length);
      return;
    }
    this.#pending.push(frame);
    this.#pendingBytes += LENGTH_PREFIX_SIZE + frame.length;
    if (this.#pendingBytes >= COALESCE_BYTES) {
      // A full batch gains nothing by waiting: let the kernel start on it.
      this.#flush();
    } else if (!this.#flushScheduled) {
      // A frame already went out at once, or the socket is still busy with earlier bytes (writing
      // now would only queue in Node's stream): write everything of this turn together at its end.
      this.#flushScheduled = true;
      setImmediate(this.#flushTask);
    }
  }

  /**
   * Queue one frame of `length` bytes that `writer` writes. A lone frame that goes out at once
   * (see {@link StreamFrameLink.send}) is written by `writer` straight behind its prefix in the
   * buffer handed to the socket: no frame of its own, no copy. Any other is written into bytes of
   * its own and sent as by `send`, with the same errors, thrown before `writer` is called.
   *
   * @example
   * ```ts
   * link.sendInPlace(frame.length, { writeFrame: (target, at) => target.set(frame, at) });
   * ```
   */
  sendInPlace(length: number, writer: FrameWriter): void {
    this.#checkSend(length);
    if (length >= COALESCE_BYTES || !this.#socket.writable || !this.#writesAtOnce()) {
      // From the slab: a fresh Uint8Array of more than 64 bytes costs an off-heap store of its
      // own, which made a burst of small publishes through this path less than half as fast.
      const frame = allocateBytes(length);
      writer.writeFrame(frame, 0);
      this.#enqueue(frame);
      return;
    }
    const batch = Buffer.allocUnsafe(LENGTH_PREFIX_SIZE + length);
    writeLengthPrefix(batch, 0, length);
    writer.writeFrame(batch, LENGTH_PREFIX_SIZE);
    this.#socket.write(batch);
  }

  /** The errors `send` throws for a frame of `length` bytes. */
  #checkSend(length: number): void {
    if (this.#closed) throw new ClosedError('the link is closed');
    if (length > this.#maxFrameSize) throw new FrameTooLargeError(length, this.#maxFrameSize);
    // Refuse only once already over the bound (core's FrameLink contract), so an idle link always
    // takes one more frame, even one larger than the bound (up to maxFrameSize).
    if (this.#pendingBytes + this.#socket.writableLength > this.#writeBufferLimit) {
      throw new BufferFullError(this.#writeBufferLimit, 'the peer is not reading fast enough: send queue full');
    }
  }

  /**
   * Whether the frame being sent goes out at once, and if so, take that turn: a lone frame on an
   * idle socket does. One that follows before the next read or the end of the turn waits for it,
   * so a burst is batched, not written one by one.
   */
  #writesAtOnce(): boolean {
    if (this.#wroteAtOnce || this.#flushScheduled || this.#pending.length > 0 || this.#socket.writableLength > 0) {
      return false;
    }
    this.#wroteAtOnce = true;
    return true;
  }

  /** Close the link; `error` becomes the reason given to `onClose`. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closeError ??= error;
    this.#flush();
    this.#stop();
    // An orderly close lets queued frames leave (end); a failure drops them (destroy).
    if (error === undefined) {
      this.#socket.end();
      this.#graceTimer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
    } else {
      this.#socket.destroy();
    }
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.#wroteAtOnce = false;
    this.#flush();
  };

  #flush(): void {
    const frames = this.#pending;
    if (frames.length === 0) return;
    const total = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#write(frames, total);
  }

  /** Write `frames` (`total` bytes with their prefixes) in one piece. */
  #write(frames: readonly Uint8Array[], total: number): void {
    if (this.#closed || !this.#socket.writable) return;
    // One allocation, prefixes written in place: cheaper than a prefix buffer per frame + concat.
    const batch = Buffer.allocUnsafe(total);
    let at = 0;
    for (const frame of frames) {
      writeLengthPrefix(batch, at, frame.length);
      batch.set(frame, at + LENGTH_PREFIX_SIZE);
      at += LENGTH_PREFIX_SIZE + frame.length;
    }
    this.#socket.write(batch);
  }

  readonly #onRead = (bytes: Uint8Array): void => this.#onData(bytes);

  /** One read's bytes, as a plain Uint8Array (see {@link plain}). */
  #onData(chunk: Uint8Array): void {
    if (this.#sink === undefined || this.#closed) return;
    // A read means the peer answered or spoke: what we send in reply is a lone frame again.
    this.#wroteAtOnce = false;
    const completedBefore = this.#completed;
    try {
      // The decoder keeps no view of the chunk past this call (a frame split across reads is
      // copied into its own buffer), so a reused read buffer is safe to decode from.
      this.#decoder.push(chunk, this.#onFrame);
    } catch (err) {
      // Garbage or an oversized length: the stream position is lost, so only dropping the link
      // is safe. The decoder allocated nothing for the bad frame.
      this.close(err as Error);
      return;
    }
    if (this.#closed) return; // the sink closed the link from onFrame
    if (this.#decoder.buffered === 0) this.#clearFrameTimer();
    else if (this.#frameTimer === undefined) {
      this.#frameTimer = setTimeout(this.#onFrameTimeout, this.#frameTimeout);
      // The socket keeps the process alive while it is open; this timer need not.
      this.#frameTimer.unref();
    } else if (this.#completed !== completedBefore) {
      // The unfinished frame is a new one: its clock starts now, not when an earlier frame began.
      // Otherwise the clock runs on: data trickling in does not restart it.
      this.#frameTimer.refresh();
    }
  }

  readonly #onFrameTimeout = (): void => {
    this.#frameTimer = undefined;
    this.close(new StalledFrameError(this.#decoder.buffered, this.#frameTimeout));
  };

  #clearFrameTimer(): void {
    if (this.#frameTimer !== undefined) clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
  }

  /** No more sending or receiving: drop what is queued and the frame clock. */
  #stop(): void {
    this.#closed = true;
    this.#clearFrameTimer();
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #reportClose(): void {
    // Reported once the socket is gone, so a listener that reconnects never overlaps the old one.
    if (this.#closeReported || !this.#socket.destroyed) return;
    this.#closeReported = true;
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#sink?.onClose(this.#closeError);
  }
}

/**
 * A plain Uint8Array view of `chunk`: the decoder's per-frame views are cheaper on it than on a
 * Buffer (no Buffer prototype set-up per frame), and receivers only need Uint8Array.
 */
function plain(chunk: Uint8Array): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
}

function prefix(length: number): Buffer {
  const p = Buffer.allocUnsafe(LENGTH_PREFIX_SIZE);
  writeLengthPrefix(p, 0, length);
  return p;
}
