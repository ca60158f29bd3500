/**
 * Synchronous `ReadFile`/`WriteFile`, for handles opened without `FILE_FLAG_OVERLAPPED`
 * (mailslot writers, short control exchanges). They block the calling thread for as long as the
 * call takes: use a {@link CompletionPort} for anything that may wait.
 *
 * @module
 */
import type { Win32Handle } from './handle.js';
import { kernel32 } from './kernel32.js';
import { checkBool, lastError } from './last-error.js';

/**
 * Write all of `data` in one `WriteFile` call; returns the number of bytes written.
 *
 * @example
 * ```ts
 * writeFile(writer, new TextEncoder().encode('hello'));
 * ```
 */
export function writeFile(handle: Win32Handle, data: Uint8Array): number {
  const written: [number] = [0];
  checkBool(kernel32().WriteFile(handle.value, data, data.byteLength, written, 0), 'WriteFile', handle.name);
  return written[0];
}

/**
 * What {@link readFile} returns.
 *
 * @example
 * ```ts
 * const { bytes, moreData }: ReadResult = readFile(slot, 424);
 * ```
 */
export interface ReadResult {
  /** The bytes read (a copy, owned by the caller). */
  readonly bytes: Uint8Array;
  /** The message was longer than the buffer: read again for the rest (`ERROR_MORE_DATA`). */
  readonly moreData: boolean;
}

/**
 * Read up to `maxBytes` in one `ReadFile` call.
 *
 * @example
 * ```ts
 * const { bytes } = readFile(slot, 424);
 * ```
 */
export function readFile(handle: Win32Handle, maxBytes: number): ReadResult {
  const k32 = kernel32();
  const buffer = new Uint8Array(maxBytes);
  const read: [number] = [0];
  if (k32.ReadFile(handle.value, buffer, maxBytes, read, 0) === 0) {
    const error = lastError('ReadFile', handle.name);
    // ERROR_MORE_DATA: a message-mode read got the first part of a longer message.
    if (error.errno !== 234) throw error;
    return { bytes: buffer.subarray(0, read[0]), moreData: true };
  }
  return { bytes: buffer.subarray(0, read[0]), moreData: false };
}
