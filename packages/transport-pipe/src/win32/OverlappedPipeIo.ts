/**
 * Overlapped I/O on one connected pipe handle: what the message-mode `NamedPipeConnection` and the
 * hub's byte-mode `NamedPipeStreamLink` share, below their framing.
 *
 * @module
 */
import type { FrameLinkSink } from '@busway/core/internal';
import { type CompletionPort, type OverlappedReadResult, Win32Error, type Win32Handle } from '@busway/win32';
import { StalledFrameError } from '../errors.js';

/** The limits {@link OverlappedPipeIo} applies: the options of the same names on each link. */
export interface OverlappedPipeIoOptions {
  /** Bytes asked for per `ReadFile`. */
  readonly readBufferSize: number;
  /** The deadline for a frame begun, and the bound on an orderly close's wait, in milliseconds. */
  readonly stallTimeout: number;
}

/**
 * What the link on top does with the bytes: its framing. Plain functions rather than methods of
 * the link, so that none of them becomes part of the link's public API.
 */
export interface PipeFraming {
  /**
   * One completed read: hand each whole frame to {@link OverlappedPipeIo.deliver}, then call
   * {@link OverlappedPipeIo.updateDeadline}. Throwing closes the link with the error thrown.
   */
  readonly onBytes: (result: OverlappedReadResult) => void;
  /** Bytes of the frame begun and not complete yet (0: none); {@link StalledFrameError} reports it. */
  readonly partialBytes: () => number;
  /** A write settled, before the link decides whether it is drained: write what was queued meanwhile, or drop it after an error. */
  readonly onWritten?: (error: Error | undefined) => void;
  /** The link is closing (with `error` when it failed): let go of a partial frame and, after a failure, of output not written yet. */
  readonly onClosing: (error: Error | undefined) => void;
}

// Ways a pipe reports that the other end went away: an orderly end, not a failure. Not
// ERROR_OPERATION_ABORTED (995): I/O this link cancels itself completes after #closed is set and
// never gets here, so a 995 here means this end was cut off (its handle closed or its I/O
// cancelled by someone else), which the peer did not do and the link must report.
const PEER_GONE = new Set([109 /* BROKEN_PIPE */, 232 /* NO_DATA */, 233 /* PIPE_NOT_CONNECTED */]);

/** `undefined` (an orderly end) when `error` says the peer went away, else `error`. */
function failureOf(error: Error | undefined): Error | undefined {
  return error instanceof Win32Error && PEER_GONE.has(error.errno) ? undefined : error;
}

/**
 * A connected pipe handle read and written through a completion port, for a `FrameLink`: one read
 * pending at a time, writes counted while in flight, a deadline for a frame begun, a peer going
 * away mapped to an orderly end, and a close that lets accepted writes finish (bounded by
 * `stallTimeout`) before it closes the handle. Frames are the link's business ({@link PipeFraming}):
 * messages on one side, length-prefixed frames on the other.
 *
 * @example
 * ```ts
 * const io = new OverlappedPipeIo(handle, sharedCompletionPort(), { readBufferSize: 65_536, stallTimeout: 5000 }, {
 *   onBytes: ({ bytes }) => { io.updateDeadline(false); io.deliver(bytes); },
 *   partialBytes: () => 0,
 *   onClosing: () => {},
 * });
 * io.start({ onFrame: (f) => route(f), onClose: (err) => drop(err) }, 'MyLink');
 * io.write(frame);
 * ```
 */
export class OverlappedPipeIo {
  /** The pipe handle, for read-backs (`readDacl`) in tests and diagnostics. */
  readonly handle: Win32Handle;
  readonly #port: CompletionPort;
  readonly #options: OverlappedPipeIoOptions;
  readonly #framing: PipeFraming;
  #sink: FrameLinkSink | undefined;
  #closed = false;
  #closeReason: { error: Error | undefined } | undefined;
  #inFlight = 0;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #drained: (() => void) | undefined;
  readonly #onRead = (error: Error | undefined, result: OverlappedReadResult | undefined): void =>
    this.#read(error, result);
  readonly #onWritten = (error: Error | undefined, written: number | undefined): void => this.#written(error, written);

  constructor(handle: Win32Handle, port: CompletionPort, options: OverlappedPipeIoOptions, framing: PipeFraming) {
    this.handle = handle;
    this.#port = port;
    this.#options = options;
    this.#framing = framing;
  }

  /**
   * True once closed, by either side.
   *
   * @example
   * ```ts
   * if (io.closed) throw new ClosedError('the pipe link is closed');
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Bytes handed to `WriteFile` whose completion has not arrived yet.
   *
   * @example
   * ```ts
   * if (io.inFlight > maxWriteBuffer) throw new BufferFullError(maxWriteBuffer);
   * ```
   */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Start reading; frames go to `sink.onFrame`, the end to `sink.onClose` (at once if the link
   * closed before it started). Once: a second call throws, naming `link`.
   *
   * @example
   * ```ts
   * io.start({ onFrame: (f) => route(f), onClose: (err) => drop(err) }, 'NamedPipeStreamLink');
   * ```
   */
  start(sink: FrameLinkSink, link: string): void {
    if (this.#sink !== undefined) throw new Error(`${link}.start called twice`);
    this.#sink = sink;
    if (this.#closeReason !== undefined) {
      sink.onClose(this.#closeReason.error);
      return;
    }
    this.#readNext();
  }

  /**
   * Issue one overlapped `WriteFile` of `data` (the port copies it). Not refused while an
   * orderly close drains: that is how accepted output still leaves; the link refuses new sends.
   *
   * @example
   * ```ts
   * io.write(Buffer.concat(batch));
   * ```
   */
  write(data: Uint8Array): void {
    this.#inFlight += data.length;
    this.#port.startWrite(this.handle, data, this.#onWritten);
  }

  /**
   * Hand one whole frame to the sink. A sink that throws closes the link (through `onBytes`).
   *
   * @example
   * ```ts
   * decoder.push(result.bytes, (frame) => io.deliver(frame));
   * ```
   */
  deliver(frame: Uint8Array): void {
    this.#sink?.onFrame(frame);
  }

  /**
   * Keep the whole-frame deadline after a read: started when a frame has begun
   * (`framing.partialBytes() > 0`), stopped when none is left, and restarted only when the frame
   * now pending is a new one (`frameCompleted`: this read completed the one before). Not restarted
   * by every read: a peer sending a byte just before each timeout would otherwise hold a frame
   * buffer forever. On expiry the link closes with {@link StalledFrameError}.
   *
   * @example
   * ```ts
   * io.updateDeadline(framesAfter !== framesBefore);
   * ```
   */
  updateDeadline(frameCompleted: boolean): void {
    if (this.#closed) return;
    if (this.#framing.partialBytes() === 0) {
      if (this.#deadline !== undefined) clearTimeout(this.#deadline);
      this.#deadline = undefined;
    } else if (this.#deadline === undefined) {
      this.#deadline = setTimeout(this.#onStalled, this.#options.stallTimeout);
    } else if (frameCompleted) {
      this.#deadline.refresh();
    }
  }

  /**
   * Close, idempotently. Orderly (no `error`): writes in flight may finish first, bounded by
   * `stallTimeout`, so a reply sent just before still reaches a reader. With an error the handle
   * closes at once, cancelling them. Closing the handle cancels the pending read; its completion
   * arrives later and is ignored.
   *
   * @example
   * ```ts
   * io.close(new FrameError('not a busway hello'));
   * ```
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    this.#deadline = undefined;
    this.#framing.onClosing(error);
    if (error === undefined && this.#inFlight > 0) {
      const timer = setTimeout(this.#closeHandle, this.#options.stallTimeout);
      this.#drained = () => {
        clearTimeout(timer);
        this.#closeHandle();
      };
    } else {
      this.#closeHandle();
    }
    if (this.#sink === undefined) this.#closeReason = { error };
    else this.#sink.onClose(error);
  }

  readonly #closeHandle = (): void => {
    this.#drained = undefined;
    this.handle.close();
  };

  readonly #onStalled = (): void => {
    this.#deadline = undefined;
    this.close(new StalledFrameError(this.#framing.partialBytes(), this.#options.stallTimeout));
  };

  #readNext(): void {
    // One read pending at a time. Several would let a burst complete in one wait of the port, and
    // Windows satisfies them in issue order, but under Wine 8 a message-mode pipe with eight
    // pending reads stopped delivering after a few hundred messages; in byte mode one read takes
    // whatever is waiting anyway.
    if (!this.#closed) this.#port.startRead(this.handle, this.#options.readBufferSize, this.#onRead);
  }

  #read(error: Error | undefined, result: OverlappedReadResult | undefined): void {
    if (this.#closed) return;
    if (error !== undefined || result === undefined) {
      this.close(failureOf(error));
      return;
    }
    try {
      this.#framing.onBytes(result);
    } catch (err) {
      this.close(err as Error);
      return;
    }
    this.#readNext(); // not if the framing or the sink closed the link
  }

  #written(error: Error | undefined, written: number | undefined): void {
    // A successful WriteFile on a pipe in blocking (PIPE_WAIT) mode, as every busway pipe is, has
    // written all of its bytes: only a PIPE_NOWAIT pipe completes a write short.
    this.#inFlight -= written ?? 0;
    // A failed write is not retried: nothing more will be written, so nothing is in flight.
    if (error !== undefined) this.#inFlight = 0;
    this.#framing.onWritten?.(error);
    if (error !== undefined && !this.#closed) this.close(failureOf(error));
    if (this.#inFlight <= 0) this.#drained?.();
  }
}
