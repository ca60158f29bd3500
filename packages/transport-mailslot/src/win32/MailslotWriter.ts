/**
 * The writing end of a mailslot, with no busway framing: each `write` is one message, as a plain
 * Win32 program's `WriteFile` would send it.
 *
 * @module
 */
import { openMailslot, writeFile, type Win32Handle } from '@busway/win32';

/**
 * Open `\\.\mailslot\<name>` (or a full path such as `\\*\mailslot\<name>` for a domain broadcast)
 * for writing. A mailslot write does not wait for the reader: it completes once queued, so the
 * synchronous `WriteFile` does not block the event loop.
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
  static open(name: string): MailslotWriter {
    return new MailslotWriter(openMailslot(name));
  }

  readonly #handle: Win32Handle;

  private constructor(handle: Win32Handle) {
    this.#handle = handle;
  }

  /** The slot's full name. */
  get path(): string {
    return this.#handle.name ?? '';
  }

  /** Write one message; returns the bytes written. Throws `Win32Error` on failure. */
  write(message: Uint8Array): number {
    return writeFile(this.#handle, message);
  }

  /** Close the handle. Idempotent. */
  close(): void {
    if (!this.#handle.closed) this.#handle.close();
  }
}
