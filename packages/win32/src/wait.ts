/**
 * Waiting on events, semaphores and other waitable handles. The synchronous forms block the
 * calling thread (use them with a zero or short timeout); {@link waitForSingleObjectAsync} waits
 * on a libuv worker thread instead, at the cost of occupying that thread while it waits.
 *
 * @module
 */
import { Synchronization } from './constants.js';
import type { Win32Handle } from './handle.js';
import { kernel32 } from './kernel32.js';
import { lastError } from './last-error.js';

/**
 * How a wait ended.
 *
 * @example
 * ```ts
 * const result: WaitResult = waitForSingleObject(event, 0);
 * ```
 */
export type WaitResult = 'signaled' | 'timeout' | 'abandoned';

function interpret(result: number, syscall: string): WaitResult {
  if (result === Synchronization.WAIT_OBJECT_0) return 'signaled';
  if (result === Synchronization.WAIT_TIMEOUT) return 'timeout';
  if (result === Synchronization.WAIT_ABANDONED_0) return 'abandoned';
  throw lastError(syscall);
}

/**
 * Wait on one handle, blocking the calling thread up to `timeoutMs` (0 = just test it).
 *
 * @example
 * ```ts
 * if (waitForSingleObject(ready, 0) === 'signaled') go();
 * ```
 */
export function waitForSingleObject(handle: Win32Handle, timeoutMs: number): WaitResult {
  return interpret(kernel32().WaitForSingleObject(handle.value, timeoutMs), 'WaitForSingleObject');
}

/**
 * Wait on one handle on a libuv worker thread; the event loop keeps running. Each pending call
 * occupies one worker thread (4 by default), so keep them few and bounded by a timeout.
 *
 * @example
 * ```ts
 * const result = await waitForSingleObjectAsync(ready, 5_000);
 * ```
 */
export function waitForSingleObjectAsync(handle: Win32Handle, timeoutMs: number): Promise<WaitResult> {
  const value = handle.value;
  return new Promise((resolve, reject) => {
    kernel32().WaitForSingleObject.async(value, timeoutMs, (err: unknown, result: number) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      if (result === Synchronization.WAIT_FAILED) {
        // The failing thread's last error is not visible here; report the failure plainly.
        return reject(new Error('WaitForSingleObject failed (WAIT_FAILED) on a worker thread'));
      }
      resolve(interpret(result, 'WaitForSingleObject'));
    });
  });
}

/**
 * Wait on up to 64 handles, blocking the calling thread. Returns the index of the signaled handle
 * (or, with `all`, 0), or `'timeout'`.
 *
 * @example
 * ```ts
 * const which = waitForMultipleObjects([stop, items], { timeoutMs: 0 });
 * ```
 */
export function waitForMultipleObjects(
  handles: readonly Win32Handle[],
  options: { readonly all?: boolean; readonly timeoutMs?: number } = {},
): number | 'timeout' {
  const values = handles.map((h) => h.value);
  const result = kernel32().WaitForMultipleObjects(
    values.length,
    values,
    options.all === true ? 1 : 0,
    options.timeoutMs ?? 0,
  );
  if (result === Synchronization.WAIT_TIMEOUT) return 'timeout';
  if (result < values.length) return result;
  if (result >= Synchronization.WAIT_ABANDONED_0 && result < Synchronization.WAIT_ABANDONED_0 + values.length)
    return result - Synchronization.WAIT_ABANDONED_0;
  throw lastError('WaitForMultipleObjects');
}
