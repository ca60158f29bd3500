/**
 * A busway hub link over a byte-mode named pipe: length-prefixed frames, coalesced writes.
 *
 * @module
 */
import {
  BufferFullError,
  ClosedError,
  DEFAULT_MAX_FRAME_SIZE,
  FrameTooLargeError,
  type PeerIdentity,
} from '@busway/core';
import { FrameDecoder, LENGTH_PREFIX_SIZE, type FrameLink, type FrameLinkSink } from '@busway/core/internal';
import { type CompletionPort, type OverlappedReadResult, Win32Error, type Win32Handle } from '@busway/win32';
import { StalledFrameError } from '../errors.js';

/** Limits of a {@link NamedPipeStreamLink}. */
export interface NamedPipeStreamLinkOptions {
  /** Largest frame accepted or sent, in bytes, prefix excluded. Default: 16 MiB. */
  readonly maxFrameSize: number;
  /** Bytes asked for per `ReadFile`. Default: 64 KiB. */
  readonly readBufferSize: number;
  /** Bytes being written past which `send` throws `BufferFullError`. Default: 8 MiB. */
  readonly maxWriteBuffer: number;
  /**
   * A frame, once its first byte has arrived, must be complete within this many milliseconds or
   * the link is closed with `StalledFrameError`. A deadline for the whole frame, not a bound on
   * silence: bytes trickling in do not restart it (a new frame does). The same option, with the
   * same meaning and default, as the POSIX link's (core's `StreamFrameLink` `frameTimeout`).
   * Also bounds how long `close()` waits for accepted frames to be written. Default: 5000.
   */
  readonly stallTimeout: number;
}

const DEFAULTS: NamedPipeStreamLinkOptions = {
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  readBufferSize: 64 * 1024,
  maxWriteBuffer: 8 * 1024 * 1024,
  stallTimeout: 5000,
};

const PEER_GONE = new Set([
  109 /* BROKEN_PIPE */, 232 /* NO_DATA */, 233 /* PIPE_NOT_CONNECTED */, 995 /* OPERATION_ABORTED */,
]);

/**
 * Frames over a byte-mode pipe, each behind core's 4-byte length prefix.
 *
 * Why byte mode for the hub rather than one frame per message: a message-mode `ReadFile` returns
 * at most one message, so every frame costs a read and a completion; in byte mode one read takes
 * whatever is waiting, many frames at once, and frames sent while a write is in flight leave
 * together in the next `WriteFile`. Each call into the pipe file system is the expensive part (very much so under
 * Wine, where it is a round trip to wineserver). Incoming bytes go through `FrameDecoder`, which
 * checks every length before allocating; garbage, an oversized length or a frame not complete
 * within `stallTimeout` of its first byte closes this link only.
 *
 * @example
 * ```ts
 * const link = new NamedPipeStreamLink(handle, sharedCompletionPort(), { maxFrameSize: 1 << 20 });
 * link.start({ onFrame: (f) => route(f), onClose: (err) => drop(err) });
 * ```
 */
export class NamedPipeStreamLink implements FrameLink {
  readonly peer: PeerIdentity | undefined;
  readonly #handle: Win32Handle;
  readonly #port: CompletionPort;
  readonly #options: NamedPipeStreamLinkOptions;
  readonly #decoder: FrameDecoder;
  #sink: FrameLinkSink | undefined;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #inFlight = 0;
  #closed = false;
  #closeReason: { error: Error | undefined } | undefined;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #drained: (() => void) | undefined;
  /** Frames decoded so far: tells whether the partial frame left after a read is a new one. */
  #completed = 0;
  readonly #deliver = (frame: Uint8Array): void => {
    this.#completed += 1;
    this.#sink?.onFrame(frame);
  };
  readonly #onRead = (error: Error | undefined, result: OverlappedReadResult | undefined): void =>
    this.#read(error, result);
  readonly #onWritten = (error: Error | undefined): void => this.#written(error);

  constructor(
    handle: Win32Handle,
    port: CompletionPort,
    options: Readonly<Partial<NamedPipeStreamLinkOptions>> = {},
    peer?: PeerIdentity,
  ) {
    this.#handle = handle;
    this.#port = port;
    this.#options = { ...DEFAULTS, ...options };
    this.#decoder = new FrameDecoder({ maxFrameSize: this.#options.maxFrameSize });
    this.peer = peer;
  }

  /** Bytes accepted by `send` and not yet written into the pipe. */
  get queuedBytes(): number {
    return this.#inFlight + this.#batchBytes;
  }

  /** The pipe handle, for read-backs in tests and diagnostics. */
  get handle(): Win32Handle {
    return this.#handle;
  }

  /** Start reading; frames go to `sink.onFrame`, the end to `sink.onClose`. Once. */
  start(sink: FrameLinkSink): void {
    if (this.#sink !== undefined) throw new Error('NamedPipeStreamLink.start called twice');
    this.#sink = sink;
    if (this.#closeReason !== undefined) {
      sink.onClose(this.#closeReason.error);
      return;
    }
    this.#readNext();
  }

  /** Queue one frame; throws `ClosedError`, `FrameTooLargeError`, or `BufferFullError` (already over the bound). */
  send(frame: Uint8Array): void {
    if (this.#closed) throw new ClosedError('the pipe link is closed');
    if (frame.length > this.#options.maxFrameSize)
      throw new FrameTooLargeError(frame.length, this.#options.maxFrameSize);
    if (this.#inFlight + this.#batchBytes > this.#options.maxWriteBuffer)
      throw new BufferFullError(this.#options.maxWriteBuffer);
    const prefix = new Uint8Array(LENGTH_PREFIX_SIZE);
    new DataView(prefix.buffer).setUint32(0, frame.length);
    this.#batch.push(prefix, frame);
    this.#batchBytes += LENGTH_PREFIX_SIZE + frame.length;
    // One WriteFile in flight at a time: an idle link writes at once (a lone request waits for
    // nothing), and whatever is sent while a write is in flight is gathered and leaves as one
    // write when it completes (the coalescing libuv does for streams). One write at a time also
    // keeps the byte stream in order by construction, rather than relying on how the pipe file
    // system (or Wine's emulation of it) orders concurrent overlapped writes.
    if (this.#inFlight === 0) this.#flush();
  }

  /**
   * Close; frames already accepted are written first (bounded by `stallTimeout`). With an error,
   * nothing more is written: unsent frames are dropped and the write in flight is cancelled.
   * Idempotent.
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#finish(error);
  }

  #flush(): void {
    // Checks the handle, not #closed: an orderly close still writes what was accepted before it.
    if (this.#batch.length === 0 || this.#inFlight > 0 || this.#handle.closed) return;
    const parts = this.#batch;
    const total = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    const data = parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, total);
    this.#inFlight = total;
    // One WriteFile for the whole batch; the port copies it into native memory.
    this.#port.startWrite(this.#handle, data, this.#onWritten);
  }

  #readNext(): void {
    if (!this.#closed) this.#port.startRead(this.#handle, this.#options.readBufferSize, this.#onRead);
  }

  #read(error: Error | undefined, result: OverlappedReadResult | undefined): void {
    if (this.#closed) return;
    if (error !== undefined || result === undefined) {
      this.#finish(error instanceof Win32Error && PEER_GONE.has(error.errno) ? undefined : error);
      return;
    }
    const completedBefore = this.#completed;
    try {
      this.#decoder.push(result.bytes, this.#deliver);
    } catch (err) {
      this.#finish(err as Error);
      return;
    }
    if (this.#closed) return; // the sink closed the link from onFrame
    this.#updateStallTimer(this.#completed !== completedBefore);
    this.#readNext();
  }

  #written(error: Error | undefined): void {
    this.#inFlight = 0;
    if (error !== undefined) {
      this.#batch = [];
      this.#batchBytes = 0;
      if (!this.#closed) this.#finish(error instanceof Win32Error && PEER_GONE.has(error.errno) ? undefined : error);
    }
    if (this.#batch.length > 0) this.#flush();
    else this.#drained?.();
  }

  /**
   * The whole-frame deadline, as core's `StreamFrameLink` keeps it on POSIX: started by a frame's
   * first byte, stopped when no partial frame is left, and restarted only when the partial frame
   * is a new one (a read completed the previous frame). Not restarted by every read: a peer
   * sending one byte just before each timeout would otherwise hold a frame buffer forever.
   */
  #updateStallTimer(completedAFrame: boolean): void {
    if (this.#decoder.buffered === 0) {
      if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
    } else if (this.#stallTimer === undefined) {
      this.#stallTimer = setTimeout(this.#onStalled, this.#options.stallTimeout);
    } else if (completedAFrame) {
      this.#stallTimer.refresh();
    }
  }

  readonly #onStalled = (): void => {
    this.#stallTimer = undefined;
    this.#finish(new StalledFrameError(this.#decoder.buffered, this.#options.stallTimeout));
  };

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    const closeHandle = (): void => {
      this.#drained = undefined;
      // Closing the handle cancels the pending read; its completion arrives later and is ignored.
      if (!this.#handle.closed) this.#handle.close();
    };
    if (error !== undefined) {
      this.#batch = [];
      this.#batchBytes = 0;
    }
    // Only an orderly close waits for the write in flight. A close with an error drops the link
    // (a peer that stalled, sent garbage or stopped reading): waiting would keep its pipe
    // instance up to stallTimeout for bytes it will not use; closing the handle cancels the write.
    if (error === undefined && (this.#inFlight > 0 || this.#batch.length > 0)) {
      const timer = setTimeout(closeHandle, this.#options.stallTimeout);
      this.#drained = () => {
        clearTimeout(timer);
        closeHandle();
      };
      this.#flush();
    } else {
      closeHandle();
    }
    if (this.#sink === undefined) this.#closeReason = { error };
    else this.#sink.onClose(error);
  }
}
