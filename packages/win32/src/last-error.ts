/**
 * Turning Win32 failure conventions into `Win32Error`s, in one place, so that no call's failure
 * can be ignored by forgetting to check it.
 *
 * @module
 */
import type { INVALID_HANDLE_VALUE } from './constants.js';
import { kernel32, type Bool, type HandleValue } from './kernel32.js';
import { Win32Error } from './win32-error.js';

/**
 * Build a `Win32Error` from `GetLastError`. Must be called right after the failing call: koffi
 * saves the thread's last error after each call and restores it before the next one, so the
 * value read here is the one the failing function set.
 *
 * @example
 * ```ts
 * if (!k32.SetEvent(h)) throw lastError('SetEvent');
 * ```
 */
export function lastError(syscall: string, detail?: string): Win32Error {
  return new Win32Error(syscall, kernel32().GetLastError(), detail);
}

/**
 * Throw the last error unless a `BOOL`-returning call succeeded.
 *
 * @example
 * ```ts
 * checkBool(k32.SetEvent(h), 'SetEvent');
 * ```
 */
export function checkBool(result: Bool, syscall: string, detail?: string): void {
  if (result === 0) throw lastError(syscall, detail);
}

/**
 * Throw the last error when a handle-returning call failed. `failure` is what the function
 * returns on failure: `INVALID_HANDLE_VALUE` for `CreateFileW`, `CreateNamedPipeW` and
 * `CreateMailslotW`, NULL (0) for the rest.
 *
 * @example
 * ```ts
 * const h = checkHandle(k32.CreateEventW(null, 1, 0, null), 0, 'CreateEventW');
 * ```
 */
export function checkHandle(
  result: HandleValue,
  failure: 0 | typeof INVALID_HANDLE_VALUE,
  syscall: string,
  detail?: string,
): HandleValue {
  if (result === failure) throw lastError(syscall, detail);
  return result;
}
