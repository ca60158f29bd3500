/**
 * {@link SocketFrameLink}: a {@link FrameLink} over a connected `net.Socket` or `tls.TLSSocket`,
 * past the handshake. Frames go out with a 4-byte big-endian length prefix and come in through
 * core's `FrameDecoder`.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { BufferFullError, ClosedError, type PeerIdentity } from '@busway/core';
import { FrameDecoder, LENGTH_PREFIX_SIZE, type FrameLink, type FrameLinkSink } from '@busway/core/internal';
import { FrameTimeoutError } from './socket-errors.js';

/** Frames at least this big are written as they are (prefix + frame, corked) instead of copied into a batch. */
const DIRECT_WRITE_BYTES = 64 * 1024;

/** Limits of one {@link SocketFrameLink}; all required here, defaults are applied by the callers. */
export interface SocketFrameLinkLimits {
  readonly maxFrameSize: number;
  readonly frameTimeout: number;
  readonly writeBufferLimit: number;
}

/**
 * One framed connection.
 *
 * Writes are coalesced: frames sent in the same turn of the event loop are copied, each behind
 * its prefix, into one buffer written with a single `write` in `setImmediate`, so a burst of
 * small messages costs one syscall instead of one per message (the biggest single win for 64-byte
 * messages). `setImmediate` rather than a microtask so that a publisher looping on
 * `await publish()` still coalesces, and so that the frames of one bus reply (sent across
 * microtasks) share a write; it runs right after the I/O phase, so a reply sent from a data
 * callback leaves in the same loop iteration. Large frames skip the copy.
 *
 * Reading: a frame begun must be finished within `frameTimeout` (slowloris defence); a bad or
 * oversized length closes this connection only, before anything is allocated for it.
 *
 * @example
 * ```ts
 * const link = new SocketFrameLink(socket, Buffer.alloc(0), { maxFrameSize: 1 << 20, frameTimeout: 30_000, writeBufferLimit: 8 << 20 });
 * link.start({ onFrame: (frame) => console.log(frame.length), onClose: (err) => console.log('closed', err) });
 * link.send(frame);
 * ```
 */
export class SocketFrameLink implements FrameLink {
  readonly peer: PeerIdentity | undefined;
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #limits: SocketFrameLinkLimits;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #sink: FrameLinkSink | undefined;
  #leftover: Buffer | undefined;
  #frameTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #closeError: Error | undefined;
  #closeReported = false;
  #completed = 0;
  readonly #onFrame = (frame: Uint8Array): void => {
    this.#completed += 1;
    this.#sink?.onFrame(frame);
  };

  /**
   * @param socket - Connected, paused, past the handshake.
   * @param leftover - Bytes read past the handshake: the start of the frame stream.
   */
  constructor(socket: Socket, leftover: Buffer, limits: SocketFrameLinkLimits) {
    this.#socket = socket;
    this.#limits = limits;
    this.#decoder = new FrameDecoder({ maxFrameSize: limits.maxFrameSize });
    this.#leftover = leftover.length > 0 ? leftover : undefined;
    this.peer =
      socket.remoteAddress === undefined ? undefined : { address: `${socket.remoteAddress}:${socket.remotePort}` };
    // Nagle would hold a lone small frame back for an ACK: latency, not throughput, is what it costs us.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('error', (err) => {
      this.#closeError ??= err;
    });
    socket.on('close', () => this.#onSocketClose());
  }

  /** Bytes accepted by `send` but not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.#pendingBytes + this.#socket.writableLength;
  }

  start(sink: FrameLinkSink): void {
    if (this.#sink !== undefined) throw new Error('SocketFrameLink.start called twice');
    this.#sink = sink;
    if (this.#closed) {
      this.#reportClose();
      return;
    }
    const leftover = this.#leftover;
    this.#leftover = undefined;
    if (leftover !== undefined) this.#onData(leftover);
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.resume();
  }

  send(frame: Uint8Array): void {
    if (this.#closed) throw new ClosedError('the connection is closed');
    // Refuse only once already over the bound, so a queue below it always takes one more frame
    // (a transport flushing at most `limit` bytes into a fresh link never sees this).
    if (this.#pendingBytes + this.#socket.writableLength > this.#limits.writeBufferLimit) {
      throw new BufferFullError(this.#limits.writeBufferLimit, 'the peer is not reading fast enough: send queue full');
    }
    if (frame.length >= DIRECT_WRITE_BYTES) {
      this.#flush();
      const socket = this.#socket;
      socket.cork();
      socket.write(prefix(frame.length));
      socket.write(frame);
      socket.uncork();
      return;
    }
    this.#pending.push(frame);
    this.#pendingBytes += LENGTH_PREFIX_SIZE + frame.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Not written at once even when alone: a bus reply is often several frames (reply, end)
      // sent across microtasks, and splitting them into two writes measured 3× slower round
      // trips than letting them share the one write at the end of the turn.
      setImmediate(this.#flushTask);
    }
  }

  close(error?: Error): void {
    if (this.#closed) return;
    this.#closeError ??= error;
    this.#flush();
    this.#closed = true;
    this.#clearFrameTimer();
    // An orderly close lets queued frames leave (end); a failure drops them (destroy).
    if (error === undefined) {
      this.#socket.end();
      // A peer that never reads would keep the socket half-open forever: bound the goodbye.
      setTimeout(() => this.#socket.destroy(), 2000).unref();
    } else {
      this.#socket.destroy();
    }
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const frames = this.#pending;
    if (frames.length === 0 || this.#socket.destroyed) {
      this.#pending = [];
      this.#pendingBytes = 0;
      return;
    }
    const batch = Buffer.allocUnsafe(this.#pendingBytes);
    let at = 0;
    for (const frame of frames) {
      const n = frame.length;
      batch[at] = n >>> 24;
      batch[at + 1] = (n >>> 16) & 0xff;
      batch[at + 2] = (n >>> 8) & 0xff;
      batch[at + 3] = n & 0xff;
      batch.set(frame, at + LENGTH_PREFIX_SIZE);
      at += LENGTH_PREFIX_SIZE + n;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#socket.write(batch);
  }

  #onData(chunk: Buffer): void {
    const sink = this.#sink;
    if (sink === undefined || this.#closed) return;
    const completedBefore = this.#completed;
    try {
      // A plain Uint8Array view: the decoder's per-frame subarray() is cheaper on it than on a
      // Buffer (no Buffer prototype set-up per frame), and receivers only need Uint8Array.
      this.#decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length), this.#onFrame);
    } catch (err) {
      this.close(err as Error);
      return;
    }
    if (this.#decoder.buffered === 0) this.#clearFrameTimer();
    else if (this.#frameTimer === undefined) {
      this.#frameTimer = setTimeout(
        () => this.close(new FrameTimeoutError(this.#limits.frameTimeout)),
        this.#limits.frameTimeout,
      );
    } else if (this.#completed !== completedBefore) {
      // The unfinished frame is a new one: its clock starts now, not when an earlier frame began.
      this.#frameTimer.refresh();
    }
  }

  #clearFrameTimer(): void {
    if (this.#frameTimer !== undefined) clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
  }

  #onSocketClose(): void {
    this.#closed = true;
    this.#clearFrameTimer();
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#sink !== undefined) this.#reportClose();
  }

  #reportClose(): void {
    if (this.#closeReported || !this.#socket.destroyed) return;
    this.#closeReported = true;
    this.#sink?.onClose(this.#closeError);
  }
}

function prefix(length: number): Buffer {
  const p = Buffer.allocUnsafe(LENGTH_PREFIX_SIZE);
  p.writeUInt32BE(length, 0);
  return p;
}
