/**
 * A Win32 mailslot, the reading end, with no busway framing: messages are whatever plain Win32
 * programs write to `\\.\mailslot\<name>` with `CreateFileW` + `WriteFile`.
 *
 * @module
 */
import { Subject, type Observable } from 'rxjs';
import {
  acquireCompletionPort,
  createMailslot,
  readDacl,
  releaseCompletionPort,
  type Win32Handle,
  Win32Error,
} from '@busway/win32';
import type { CompletionPort } from '@busway/win32';
import { pollMailslot } from './MailslotPoller.js';

/** Options of {@link Mailslot.create}. */
export type MailslotServerOptions = Readonly<
  Partial<{
    /**
     * Largest message accepted, in bytes. Writers of longer messages get an error from `WriteFile`
     * (so a message can never be too big for the read buffer and wedge the slot). Default: 65536.
     */
    maxMessageSize: number;
    /** SDDL of the slot's security descriptor. Default: `@busway/win32`'s (current user and SYSTEM). */
    sddl: string;
    /**
     * Where reads cannot be overlapped (see `MailslotPoller`: always under Wine), the longest
     * interval between two polls of an idle slot, in ms (the process-wide poller uses the smallest asked for). Default: 16.
     */
    pollIntervalMs: number;
  }>
>;

/** `ERROR_OPERATION_ABORTED`: the pending read was cancelled by {@link Mailslot.close}. */
const ERROR_OPERATION_ABORTED = 995;

/**
 * Create a mailslot and read it, never blocking the event loop: overlapped through
 * `@busway/win32`'s completion port (one read always pending) where the handle can be associated
 * with it, else by a non-blocking poll (`MailslotPoller`; Wine cannot associate mailslots).
 *
 * @example
 * ```ts
 * const slot = Mailslot.create('orders');               // \\.\mailslot\orders
 * slot.messages$.subscribe((bytes) => console.log(new TextDecoder().decode(bytes)));
 * // ... a C program does CreateFileW(L"\\\\.\\mailslot\\orders") + WriteFile
 * await slot.close();
 * ```
 */
export class Mailslot {
  /**
   * Create `\\.\mailslot\<name>` (or the full path given). Throws `Win32Error` with
   * `ERROR_ALREADY_EXISTS` when another process (or this one) owns the name.
   */
  static create(name: string, options: MailslotServerOptions = {}): Mailslot {
    const maxMessageSize = options.maxMessageSize ?? 65536;
    const handle = createMailslot(name, {
      maxMessageSize,
      readTimeout: 0,
      ...(options.sddl === undefined ? {} : { sddl: options.sddl }),
    });
    return new Mailslot(handle, maxMessageSize, options.pollIntervalMs ?? 16);
  }

  /** Every message, in arrival order; each is a copy the subscriber owns. Completes on close. */
  readonly messages$: Observable<Uint8Array>;
  /** The slot's full name, for example `\\.\mailslot\orders`. */
  readonly path: string;
  /** The limit given at creation. */
  readonly maxMessageSize: number;
  /** How reads are done: `overlapped` (completion port) or `polled`. */
  readonly readMode: 'overlapped' | 'polled';
  readonly #handle: Win32Handle;
  readonly #port: CompletionPort | undefined;
  #stopPolling: (() => void) | undefined;
  readonly #messages = new Subject<Uint8Array>();
  #closing: Promise<void> | undefined;
  #readDone: Promise<void> | undefined;
  #resolveReadDone: (() => void) | undefined;

  private constructor(handle: Win32Handle, maxMessageSize: number, pollIntervalMs: number) {
    this.#handle = handle;
    this.path = handle.name ?? '';
    this.maxMessageSize = maxMessageSize;
    this.messages$ = this.#messages.asObservable();
    const port = acquireCompletionPort();
    try {
      port.associate(handle);
      this.#port = port;
      this.readMode = 'overlapped';
      this.#read();
    } catch {
      // Not associable (a synchronous handle: Wine's mailslots). Poll instead; see MailslotPoller.
      void releaseCompletionPort();
      this.#port = undefined;
      this.readMode = 'polled';
      this.#stopPolling = pollMailslot(
        {
          handle,
          onMessage: (bytes) => this.#messages.next(bytes),
          onError: (error) => this.#messages.error(error),
        },
        pollIntervalMs,
      );
    }
  }

  /**
   * The slot's DACL as SDDL, read back from the kernel: who may open it for writing. By default
   * only the current user and SYSTEM (`@busway/win32`'s default SDDL).
   */
  dacl(): string {
    return readDacl(this.#handle, 'kernel');
  }

  /** Stop reading (the pending read is cancelled), close the slot. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopPolling?.();
      if (this.#readDone !== undefined) {
        this.#port?.cancel(this.#handle);
        await this.#readDone;
      }
      this.#handle.close();
      this.#messages.complete();
      if (this.#port !== undefined) await releaseCompletionPort();
    })();
    return this.#closing;
  }

  #read(): void {
    const port = this.#port;
    if (this.#closing !== undefined || port === undefined) return;
    this.#readDone = new Promise((resolve) => (this.#resolveReadDone = resolve));
    port.startRead(this.#handle, this.maxMessageSize, (error, result) => {
      this.#readDone = undefined;
      this.#resolveReadDone?.();
      if (this.#closing !== undefined) return;
      if (error !== undefined) {
        if (error instanceof Win32Error && error.errno === ERROR_OPERATION_ABORTED) return;
        this.#messages.error(error);
        return;
      }
      if (result !== undefined) this.#messages.next(result.bytes);
      this.#read();
    });
  }
}
