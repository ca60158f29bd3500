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
import type { CompletionPort, OverlappedReadResult, Win32Handle } from '@busway/win32';
import { OverlappedPipeIo } from './OverlappedPipeIo.js';

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
  readonly #options: NamedPipeConnectionOptions;
  readonly #io: OverlappedPipeIo;
  /** Parts of a message longer than the read buffer, until its last part (no `moreData`). */
  #parts: Uint8Array[] = [];
  #partBytes = 0;

  constructor(
    handle: Win32Handle,
    port: CompletionPort,
    options: Readonly<Partial<NamedPipeConnectionOptions>> = {},
    peer?: PeerIdentity,
  ) {
    this.#options = { ...NAMED_PIPE_CONNECTION_DEFAULTS, ...options };
    this.#io = new OverlappedPipeIo(handle, port, this.#options, {
      onBytes: (result) => this.#read(result),
      partialBytes: () => this.#partBytes,
      onClosing: () => {
        this.#parts = [];
        this.#partBytes = 0;
      },
    });
    this.peer = peer;
  }

  /** The pipe path this connection is on. */
  get name(): string {
    return this.#io.handle.name ?? '';
  }

  /** True once closed by either side. */
  get closed(): boolean {
    return this.#io.closed;
  }

  /** Bytes of messages being written and not yet taken by the pipe. */
  get queuedBytes(): number {
    return this.#io.inFlight;
  }

  /** The pipe handle, for read-backs (`readDacl`) in tests and diagnostics. */
  get handle(): Win32Handle {
    return this.#io.handle;
  }

  /** Start reading; each whole message goes to `sink.onFrame`, the end to `sink.onClose`. Once. */
  start(sink: FrameLinkSink): void {
    this.#io.start(sink, 'NamedPipeConnection');
  }

  /**
   * Send one message (copied; the caller may reuse `message`). Throws `ClosedError`,
   * `FrameTooLargeError` above `maxMessageSize`, or `BufferFullError` when more than
   * `maxWriteBuffer` bytes are still being written (a peer that does not read).
   */
  send(message: Uint8Array): void {
    if (this.#io.closed) throw new ClosedError('the pipe connection is closed');
    if (message.length > this.#options.maxMessageSize)
      throw new FrameTooLargeError(message.length, this.#options.maxMessageSize);
    if (this.#io.inFlight > this.#options.maxWriteBuffer) throw new BufferFullError(this.#options.maxWriteBuffer);
    // Several overlapped writes may be outstanding, one per message (message mode keeps each
    // WriteFile a message of its own, so writes cannot be coalesced as the hub link does): the
    // pipe file system queues them in issue order, so messages keep their order without waiting
    // for each completion.
    this.#io.write(message);
  }

  /**
   * Close. Writes already started are allowed to finish first (bounded by `stallTimeout`), so a
   * reply sent just before `close()` still reaches a reader; then the handle is closed, which
   * cancels the pending read. With an error the handle is closed at once. Idempotent.
   */
  close(error?: Error): void {
    this.#io.close(error);
  }

  #read({ bytes, moreData }: OverlappedReadResult): void {
    if (!moreData && this.#parts.length === 0) {
      // The whole message in one read: the common case, handed on without a copy.
      if (bytes.length > this.#options.maxMessageSize)
        throw new FrameTooLargeError(bytes.length, this.#options.maxMessageSize);
      this.#io.deliver(bytes);
      return;
    }
    // Check the limit before keeping the part: a peer announcing nothing can still only make us
    // hold maxMessageSize bytes.
    if (this.#partBytes + bytes.length > this.#options.maxMessageSize)
      throw new FrameTooLargeError(this.#partBytes + bytes.length, this.#options.maxMessageSize);
    this.#parts.push(bytes);
    this.#partBytes += bytes.length;
    if (moreData) {
      // Bounded from the first part: the writer issued the whole message in one WriteFile, so the
      // rest is waiting on nothing but us reading it; a message that does not complete within
      // stallTimeout comes from a misbehaving peer. A read returns at most one message, so a
      // part never completes one message and begins the next.
      this.#io.updateDeadline(false);
      return;
    }
    const message = concat(this.#parts, this.#partBytes);
    this.#parts = [];
    this.#partBytes = 0;
    this.#io.updateDeadline(false);
    this.#io.deliver(message);
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
