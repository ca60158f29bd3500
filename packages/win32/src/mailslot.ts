/**
 * Mailslots: connectionless, queued datagrams. The reader creates the slot
 * (`CreateMailslotW`); writers open it with `CreateFileW` and write whole messages.
 *
 * @module
 */
import { FileAccess, INVALID_HANDLE_VALUE, Mailslot } from './constants.js';
import { Win32Handle } from './handle.js';
import { kernel32 } from './kernel32.js';
import { checkBool, checkHandle } from './last-error.js';
import { mailslotPath } from './object-names.js';
import { assertWindows } from './platform-error.js';
import { withSecurityAttributes } from './security-attributes.js';

/**
 * Options of {@link createMailslot}; every field documents its default.
 *
 * @example
 * ```ts
 * createMailslot('orders', { maxMessageSize: 424 } satisfies MailslotOptions);
 * ```
 */
export interface MailslotOptions {
  /** Largest message accepted, in bytes; 0 = any size. Default 0. */
  readonly maxMessageSize?: number;
  /** How long a read waits for a message, in ms; `MAILSLOT_WAIT_FOREVER` blocks. Default 0. */
  readonly readTimeout?: number;
  /** SDDL of the slot's security descriptor. Default: current user and SYSTEM only. */
  readonly sddl?: string;
}

/**
 * Create a mailslot (the reading end). The name may be short (`orders`) or a full
 * `\\.\mailslot\orders`.
 *
 * @example
 * ```ts
 * const slot = createMailslot('orders');
 * ```
 */
export function createMailslot(name: string, options: MailslotOptions = {}): Win32Handle {
  assertWindows('createMailslot');
  const path = mailslotPath(name);
  const raw = withSecurityAttributes(options.sddl, (sa) =>
    kernel32().CreateMailslotW(path, options.maxMessageSize ?? 0, options.readTimeout ?? 0, sa),
  );
  return new Win32Handle(checkHandle(raw, INVALID_HANDLE_VALUE, 'CreateMailslotW', path), 'mailslot', path);
}

/** Options of {@link openMailslot}. */
export type OpenMailslotOptions = Readonly<
  Partial<{
    /**
     * Open for overlapped writes (`FILE_FLAG_OVERLAPPED`), to be driven through a `CompletionPort`.
     * Needed where a synchronous write to a full slot could block the thread. Default: false.
     */
    overlapped: boolean;
  }>
>;

/**
 * Open a mailslot for writing. Throws `Win32Error` (`ERROR_FILE_NOT_FOUND`) when no reader has
 * created it.
 *
 * @example
 * ```ts
 * const writer = openMailslot('orders');
 * writeFile(writer, new TextEncoder().encode('hello'));
 * const overlapped = openMailslot('orders', { overlapped: true });
 * ```
 */
export function openMailslot(name: string, options: OpenMailslotOptions = {}): Win32Handle {
  assertWindows('openMailslot');
  const path = mailslotPath(name);
  const raw = kernel32().CreateFileW(
    path,
    FileAccess.GENERIC_WRITE,
    FileAccess.FILE_SHARE_READ | FileAccess.FILE_SHARE_WRITE,
    null,
    FileAccess.OPEN_EXISTING,
    FileAccess.FILE_ATTRIBUTE_NORMAL | (options.overlapped === true ? FileAccess.FILE_FLAG_OVERLAPPED : 0),
    0,
  );
  return new Win32Handle(checkHandle(raw, INVALID_HANDLE_VALUE, 'CreateFileW', path), 'mailslot-writer', path);
}

/**
 * What {@link getMailslotInfo} reports.
 *
 * @example
 * ```ts
 * const { nextSize }: MailslotInfo = getMailslotInfo(slot);
 * ```
 */
export interface MailslotInfo {
  /** Largest message the slot accepts, in bytes (0 = any). */
  readonly maxMessageSize: number;
  /** Size of the next message, or `undefined` when the slot is empty. */
  readonly nextSize: number | undefined;
  /** Number of queued messages (Wine may under-report this; Windows is exact). */
  readonly messageCount: number;
  /** Read timeout, in ms. */
  readonly readTimeout: number;
}

/**
 * Query a mailslot: the size of the next message and how many are queued.
 *
 * @example
 * ```ts
 * const { nextSize } = getMailslotInfo(slot);
 * if (nextSize !== undefined) read(slot, nextSize);
 * ```
 */
export function getMailslotInfo(handle: Win32Handle): MailslotInfo {
  const max: [number] = [0];
  const next: [number] = [0];
  const count: [number] = [0];
  const timeout: [number] = [0];
  checkBool(kernel32().GetMailslotInfo(handle.value, max, next, count, timeout), 'GetMailslotInfo', handle.name);
  return {
    maxMessageSize: max[0],
    nextSize: next[0] === Mailslot.MAILSLOT_NO_MESSAGE ? undefined : next[0],
    messageCount: count[0],
    readTimeout: timeout[0],
  };
}

/**
 * Change how long a read on the slot waits for a message, in ms.
 *
 * @example
 * ```ts
 * setMailslotReadTimeout(slot, 0); // reads return at once
 * ```
 */
export function setMailslotReadTimeout(handle: Win32Handle, timeoutMs: number): void {
  checkBool(kernel32().SetMailslotInfo(handle.value, timeoutMs), 'SetMailslotInfo', handle.name);
}
