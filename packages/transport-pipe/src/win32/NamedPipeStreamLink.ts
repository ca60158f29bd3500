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
import type { CompletionPort, OverlappedReadResult, Win32Handle } from '@busway/win32';
import { OverlappedPipeIo } from './OverlappedPipeIo.js';

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
   * Also bounds how long `close()` waits for accepted frames to be written (this link only; a
   * `StreamFrameLink` waits 2 s). Default: 5000.
   */
  readonly stallTimeout: number;
}

/** The defaults of every Windows hub link, whichever I/O moves its bytes (see `NamedPipeEndpoint`). */
export const PIPE_LINK_DEFAULTS: NamedPipeStreamLinkOptions = {
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  readBufferSize: 64 * 1024,
  maxWriteBuffer: 8 * 1024 * 1024,
  stallTimeout: 5000,
};

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
  readonly #options: NamedPipeStreamLinkOptions;
  readonly #decoder: FrameDecoder;
  readonly #io: OverlappedPipeIo;
  /** Frames sent while a write is in flight: they leave together in the next `WriteFile`. */
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  /** Frames decoded so far: tells whether the partial frame left after a read is a new one. */
  #completed = 0;
  readonly #deliver = (frame: Uint8Array): void => {
    this.#completed += 1;
    this.#io.deliver(frame);
  };

  constructor(
    handle: Win32Handle,
    port: CompletionPort,
    options: Readonly<Partial<NamedPipeStreamLinkOptions>> = {},
    peer?: PeerIdentity,
  ) {
    this.#options = { ...PIPE_LINK_DEFAULTS, ...options };
    this.#decoder = new FrameDecoder({ maxFrameSize: this.#options.maxFrameSize });
    this.#io = new OverlappedPipeIo(handle, port, this.#options, {
      onBytes: (result) => this.#read(result),
      partialBytes: () => this.#decoder.buffered,
      onWritten: (error) => (error === undefined ? this.#flush() : this.#dropBatch()),
      onClosing: (error) => {
        if (error !== undefined) this.#dropBatch();
      },
    });
    this.peer = peer;
  }

  /** Bytes accepted by `send` and not yet written into the pipe. */
  get queuedBytes(): number {
    return this.#io.inFlight + this.#batchBytes;
  }

  /** The pipe handle, for read-backs in tests and diagnostics. */
  get handle(): Win32Handle {
    return this.#io.handle;
  }

  /** Start reading; frames go to `sink.onFrame`, the end to `sink.onClose`. Once. */
  start(sink: FrameLinkSink): void {
    this.#io.start(sink, 'NamedPipeStreamLink');
  }

  /** Queue one frame; throws `ClosedError`, `FrameTooLargeError`, or `BufferFullError` (already over the bound). */
  send(frame: Uint8Array): void {
    if (this.#io.closed) throw new ClosedError('the pipe link is closed');
    if (frame.length > this.#options.maxFrameSize)
      throw new FrameTooLargeError(frame.length, this.#options.maxFrameSize);
    if (this.queuedBytes > this.#options.maxWriteBuffer) throw new BufferFullError(this.#options.maxWriteBuffer);
    const prefix = new Uint8Array(LENGTH_PREFIX_SIZE);
    new DataView(prefix.buffer).setUint32(0, frame.length);
    this.#batch.push(prefix, frame);
    this.#batchBytes += LENGTH_PREFIX_SIZE + frame.length;
    // One WriteFile in flight at a time: an idle link writes at once (a lone request waits for
    // nothing), and whatever is sent while a write is in flight is gathered and leaves as one
    // write when it completes (the coalescing libuv does for streams). One write at a time also
    // keeps the byte stream in order by construction, rather than relying on how the pipe file
    // system (or Wine's emulation of it) orders concurrent overlapped writes.
    this.#flush();
  }

  /**
   * Close; frames already accepted are written first (bounded by `stallTimeout`). With an error,
   * nothing more is written: unsent frames are dropped and the write in flight is cancelled.
   * Idempotent.
   */
  close(error?: Error): void {
    this.#io.close(error);
  }

  #flush(): void {
    // Checks the handle, not closed: an orderly close still writes what was accepted before it.
    if (this.#batch.length === 0 || this.#io.inFlight > 0 || this.#io.handle.closed) return;
    const parts = this.#batch;
    const total = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    // One WriteFile for the whole batch; the port copies it into native memory.
    this.#io.write(parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, total));
  }

  #dropBatch(): void {
    this.#batch = [];
    this.#batchBytes = 0;
  }

  #read(result: OverlappedReadResult): void {
    const completedBefore = this.#completed;
    this.#decoder.push(result.bytes, this.#deliver);
    this.#io.updateDeadline(this.#completed !== completedBefore);
  }
}
