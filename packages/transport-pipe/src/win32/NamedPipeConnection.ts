/**
 * One connected end of a message-mode named pipe, on either side.
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
import type { FrameLink, FrameLinkSink } from '@busway/core/internal';
import { type CompletionPort, type OverlappedReadResult, Win32Error, type Win32Handle } from '@busway/win32';
import { StalledFrameError } from '../errors.js';

/** Limits of a {@link NamedPipeConnection}. */
export interface NamedPipeConnectionOptions {
  /** Bytes asked for per `ReadFile`; a longer message arrives in parts (`ERROR_MORE_DATA`). Default: 64 KiB. */
  readonly readBufferSize: number;

  /** Largest message accepted or sent, in bytes; a longer one closes the connection. Default: 16 MiB. */
  readonly maxMessageSize: number;
  /** Bytes of writes in flight past which `send` throws `BufferFullError`. Default: 8 MiB. */
  readonly maxWriteBuffer: number;
  /**
   * How long the rest of a message may take once its first part arrived, in milliseconds: a
   * deadline for the whole message (later parts do not extend it), as `stallTimeout` is for a
   * frame on the hub's links. Default: 5000.
   */
  readonly stallTimeout: number;
}

/** Defaults of {@link NamedPipeConnectionOptions}. */
export const NAMED_PIPE_CONNECTION_DEFAULTS: NamedPipeConnectionOptions = {
  readBufferSize: 64 * 1024,
  maxMessageSize: DEFAULT_MAX_FRAME_SIZE,
  maxWriteBuffer: 8 * 1024 * 1024,
  stallTimeout: 5000,
};

// Ways a pipe reports that the other end went away: an orderly end, not a failure.
const ERROR_BROKEN_PIPE = 109;
const ERROR_PIPE_NOT_CONNECTED = 233;
const ERROR_NO_DATA = 232;
const ERROR_OPERATION_ABORTED = 995;
const READ_DEPTH = 1;
const PEER_GONE = new Set([ERROR_BROKEN_PIPE, ERROR_PIPE_NOT_CONNECTED, ERROR_NO_DATA, ERROR_OPERATION_ABORTED]);

/**
 * A connected named pipe in message mode: one `send` is one `WriteFile` is one message, and each
 * message read (reassembled from `ERROR_MORE_DATA` parts when longer than the read buffer) is
 * handed to the sink's `onFrame` whole. No busway framing is added, so the other end may be any
 * Win32 program using `ReadFile`/`WriteFile` in message mode.
 *
 * All I/O is overlapped through a completion port: nothing blocks the event loop and no thread is
 * held per connection. It implements core's `FrameLink`, so a hub can route over it directly.
 *
 * @example
 * ```ts
 * const connection = await NamedPipeClient.connect('\\\\.\\pipe\\legacy-app');
 * connection.start({ onFrame: (m) => console.log(Buffer.from(m).toString()), onClose: () => {} });
 * connection.send(Buffer.from('hello'));
 * ```
 */
export class NamedPipeConnection implements FrameLink {
  /** The process at the other end, as the OS reported it (server side: the client's pid). */
  readonly peer: PeerIdentity | undefined;
  readonly #handle: Win32Handle;
  readonly #port: CompletionPort;
  readonly #options: NamedPipeConnectionOptions;
  #sink: FrameLinkSink | undefined;
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  #inFlight = 0;
  #closed = false;
  #closeReason: { error: Error | undefined } | undefined;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #drained: (() => void) | undefined;
  /** Index the next read is issued with, and the index whose result is processed next. */
  #nextIssue = 0;
  #nextProcess = 0;
  /** Completed reads waiting for an earlier one: processed strictly in issue order. */
  readonly #completed = new Map<number, { error: Error | undefined; result: OverlappedReadResult | undefined }>();
  readonly #onWritten = (error: Error | undefined, written: number | undefined): void => this.#written(error, written);

  constructor(
    handle: Win32Handle,
    port: CompletionPort,
    options: Readonly<Partial<NamedPipeConnectionOptions>> = {},
    peer?: PeerIdentity,
  ) {
    this.#handle = handle;
    this.#port = port;
    this.#options = { ...NAMED_PIPE_CONNECTION_DEFAULTS, ...options };
    this.peer = peer;
  }

  /** The pipe path this connection is on. */
  get name(): string {
    return this.#handle.name ?? '';
  }

  /** True once closed by either side. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes of messages being written and not yet taken by the pipe. */
  get queuedBytes(): number {
    return this.#inFlight;
  }

  /** The pipe handle, for read-backs (`readDacl`) in tests and diagnostics. */
  get handle(): Win32Handle {
    return this.#handle;
  }

  /** Start reading; each whole message goes to `sink.onFrame`, the end to `sink.onClose`. Once. */
  start(sink: FrameLinkSink): void {
    if (this.#sink !== undefined) throw new Error('NamedPipeConnection.start called twice');
    this.#sink = sink;
    if (this.#closeReason !== undefined) {
      sink.onClose(this.#closeReason.error);
      return;
    }
    this.#readNext();
  }

  /**
   * Send one message (copied; the caller may reuse `message`). Throws `ClosedError`,
   * `FrameTooLargeError` above `maxMessageSize`, or `BufferFullError` when more than
   * `maxWriteBuffer` bytes are still being written (a peer that does not read).
   */
  send(message: Uint8Array): void {
    if (this.#closed) throw new ClosedError('the pipe connection is closed');
    if (message.length > this.#options.maxMessageSize)
      throw new FrameTooLargeError(message.length, this.#options.maxMessageSize);
    if (this.#inFlight > this.#options.maxWriteBuffer) throw new BufferFullError(this.#options.maxWriteBuffer);
    this.#inFlight += message.length;
    // Several overlapped writes may be outstanding: the pipe file system queues them in issue
    // order, so messages keep their order without waiting for each completion.
    this.#port.startWrite(this.#handle, message, this.#onWritten);
  }

  /**
   * Close. Writes already started are allowed to finish first (bounded by `stallTimeout`), so a
   * reply sent just before `close()` still reaches a reader; then the handle is closed, which
   * cancels the pending read. Idempotent.
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#finish(error);
  }

  #readNext(): void {
    // One read pending at a time. Several would let a burst complete in one wait of the port, and
    // Windows satisfies them in issue order (hence the indexes), but under Wine 8 a message-mode
    // pipe with eight pending reads stopped delivering after a few hundred messages.
    while (!this.#closed && this.#nextIssue - this.#nextProcess < READ_DEPTH) {
      const index = this.#nextIssue;
      this.#nextIssue += 1;
      this.#port.startRead(this.#handle, this.#options.readBufferSize, (error, result) => {
        this.#completed.set(index, { error, result });
        this.#processCompleted();
      });
    }
  }

  #processCompleted(): void {
    for (
      let next = this.#completed.get(this.#nextProcess);
      next !== undefined;
      next = this.#completed.get(this.#nextProcess)
    ) {
      this.#completed.delete(this.#nextProcess);
      this.#nextProcess += 1;
      if (this.#closed) continue;
      this.#read(next.error, next.result);
    }
    this.#readNext();
  }

  #read(error: Error | undefined, result: OverlappedReadResult | undefined): void {
    if (this.#closed) return;
    if (error !== undefined || result === undefined) {
      const gone = error instanceof Win32Error && PEER_GONE.has(error.errno);
      this.#finish(gone ? undefined : error);
      return;
    }
    const { bytes, moreData } = result;
    if (moreData || this.#parts.length > 0) {
      // Check the limit before keeping the part: a peer announcing nothing can still only make
      // us hold maxMessageSize bytes.
      if (this.#partBytes + bytes.length > this.#options.maxMessageSize) {
        this.#finish(new FrameTooLargeError(this.#partBytes + bytes.length, this.#options.maxMessageSize));
        return;
      }
      this.#parts.push(bytes);
      this.#partBytes += bytes.length;
      if (moreData) {
        this.#armStallTimer();
        return;
      }
      const message = concat(this.#parts, this.#partBytes);
      this.#parts = [];
      this.#partBytes = 0;
      this.#clearStallTimer();
      this.#deliver(message);
    } else {
      if (bytes.length > this.#options.maxMessageSize) {
        this.#finish(new FrameTooLargeError(bytes.length, this.#options.maxMessageSize));
        return;
      }
      this.#deliver(bytes);
    }
  }

  #deliver(message: Uint8Array): void {
    try {
      this.#sink?.onFrame(message);
    } catch (err) {
      this.#finish(err as Error);
    }
  }

  #written(error: Error | undefined, written: number | undefined): void {
    this.#inFlight -= written ?? 0;
    if (error !== undefined && !this.#closed) {
      const gone = error instanceof Win32Error && PEER_GONE.has(error.errno);
      this.#finish(gone ? undefined : error);
    }
    if (error !== undefined) this.#inFlight = 0;
    if (this.#inFlight <= 0) this.#drained?.();
  }

  #armStallTimer(): void {
    if (this.#stallTimer !== undefined) return;
    // Bounded from the first part: the writer issued the whole message in one WriteFile, so
    // the rest is waiting on nothing but us reading it; a message that does not complete within
    // stallTimeout comes from a misbehaving peer.
    this.#stallTimer = setTimeout(
      () => this.#finish(new StalledFrameError(this.#partBytes, this.#options.stallTimeout)),
      this.#options.stallTimeout,
    );
  }

  #clearStallTimer(): void {
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearStallTimer();
    this.#parts = [];
    const closeHandle = (): void => {
      this.#drained = undefined;
      // Closing the handle cancels the pending read; its completion arrives later and is ignored.
      this.#handle.close();
    };
    if (this.#inFlight > 0 && error === undefined) {
      const timer = setTimeout(closeHandle, this.#options.stallTimeout);
      this.#drained = () => {
        clearTimeout(timer);
        closeHandle();
      };
    } else {
      closeHandle();
    }
    if (this.#sink === undefined) this.#closeReason = { error };
    else this.#sink.onClose(error);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
