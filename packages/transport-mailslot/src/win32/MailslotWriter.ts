/**
 * The writing end of a mailslot, with no busway framing: each write is one message, as a plain
 * Win32 program's `WriteFile` would send it.
 *
 * @module
 */
import { acquireCompletionPort, openMailslot, releaseCompletionPort, writeFile } from '@busway/win32';
import type { CompletionPort, Win32Handle } from '@busway/win32';

/** Options of {@link MailslotWriter.open}. */
export type MailslotWriterOptions = Readonly<
  Partial<{
    /**
     * Open the handle for overlapped writes (`FILE_FLAG_OVERLAPPED`) through the shared completion
     * port, for {@link MailslotWriter.startWrite}. Default: false (synchronous {@link MailslotWriter.write}).
     */
    overlapped: boolean;
  }>
>;

/**
 * Open `\\.\mailslot\<name>` (or a full path such as `\\*\mailslot\<name>` for a domain broadcast)
 * for writing.
 *
 * On Windows a mailslot write completes once the message is queued, so the synchronous `write`
 * returns at once. Under Wine it blocks while the reader's queue is full (observed: a writer and a
 * reader in one thread deadlock), which is why the transport writes overlapped.
 *
 * @example
 * ```ts
 * const writer = MailslotWriter.open('orders');
 * writer.write(new TextEncoder().encode('hello'));
 * writer.close();
 * ```
 */
export class MailslotWriter {
  /** Throws `Win32Error` (`ERROR_FILE_NOT_FOUND`) when no process has created the slot. */
  static open(name: string, options: MailslotWriterOptions = {}): MailslotWriter {
    const overlapped = options.overlapped === true;
    const handle = openMailslot(name, { overlapped });
    return new MailslotWriter(handle, overlapped ? acquireCompletionPort() : undefined);
  }

  readonly #handle: Win32Handle;
  readonly #port: CompletionPort | undefined;
  #pending = 0;

  private constructor(handle: Win32Handle, port: CompletionPort | undefined) {
    this.#handle = handle;
    this.#port = port;
  }

  /** The slot's full name. */
  get path(): string {
    return this.#handle.name ?? '';
  }

  /** Overlapped writes started and not yet completed. */
  get pending(): number {
    return this.#pending;
  }

  /** Write one message synchronously; returns the bytes written. Throws `Win32Error` on failure. */
  write(message: Uint8Array): number {
    return writeFile(this.#handle, message);
  }

  /**
   * Start an overlapped write of one message (the bytes are copied at once); `done` is called on
   * the event loop when it completed. Only for writers opened with `overlapped: true`.
   */
  startWrite(message: Uint8Array, done: (error: Error | undefined) => void): void {
    const port = this.#port;
    if (port === undefined) throw new TypeError('startWrite needs a writer opened with { overlapped: true }');
    this.#pending += 1;
    port.startWrite(this.#handle, message, (error) => {
      this.#pending -= 1;
      done(error);
    });
  }

  /** Close the handle (pending overlapped writes are cancelled). Idempotent. */
  close(): void {
    if (this.#handle.closed) return;
    this.#handle.close();
    if (this.#port !== undefined) void releaseCompletionPort();
  }
}
