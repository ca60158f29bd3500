/**
 * Named Win32 mutexes, for deciding atomically which of several processes holds a role (the hub
 * of a pipe). A mutex is owned by the thread that acquired it, and Windows marks it abandoned
 * when that thread (or its process) ends without releasing it: a crash frees it for the next one.
 *
 * Always acquire and release on the same thread, and in Node.js that means the main thread with a
 * zero timeout ({@link tryAcquireMutex}): never through koffi's `.async`, whose calls run on
 * libuv's pool threads. A mutex acquired there would be owned by a pool thread that Node keeps
 * alive and reuses, so `ReleaseMutex` from the main thread would fail (`ERROR_NOT_OWNER`) and the
 * mutex would stay held, not even abandoned, until the process exits.
 *
 * @module
 */
import { Synchronization } from './constants.js';
import { Win32Handle } from './handle.js';
import { kernel32 } from './kernel32.js';
import { checkBool, checkHandle, lastError } from './last-error.js';
import { kernelObjectName } from './object-names.js';
import { assertWindows } from './platform-error.js';
import { withSecurityAttributes } from './security-attributes.js';

/**
 * Create a named mutex, or open it if it exists, without taking it. `sddl` defaults to the
 * current user and SYSTEM only (it applies only when this call creates the mutex). `name` gets the
 * `Local\` prefix unless it has one.
 *
 * @example
 * ```ts
 * const mutex = createMutex('busway-pipe-orders');
 * if (tryAcquireMutex(mutex) !== 'busy') serve();
 * ```
 */
export function createMutex(name: string, options: { readonly sddl?: string } = {}): Win32Handle {
  assertWindows('createMutex');
  const full = kernelObjectName(name);
  const raw = withSecurityAttributes(options.sddl, (sa) => kernel32().CreateMutexW(sa, 0, full));
  return new Win32Handle(checkHandle(raw, 0, 'CreateMutexW', full), 'mutex', full);
}

/**
 * Try to take `mutex` on the calling thread without waiting. `'acquired'`: it was free.
 * `'abandoned'`: its owner ended without releasing it; the caller owns it now, as with
 * `'acquired'` (whatever it protected may be half done). `'busy'`: another thread owns it.
 *
 * A mutex is recursive: the thread that owns it acquires it again at once, and must release it
 * as many times. Callers that share a thread (every caller on Node's main thread) must keep
 * their own record of what they hold.
 *
 * @example
 * ```ts
 * if (tryAcquireMutex(mutex) === 'busy') throw new Error('held by another process');
 * ```
 */
export function tryAcquireMutex(mutex: Win32Handle): 'acquired' | 'abandoned' | 'busy' {
  const result = kernel32().WaitForSingleObject(mutex.value, 0);
  if (result === Synchronization.WAIT_OBJECT_0) return 'acquired';
  if (result === Synchronization.WAIT_ABANDONED_0) return 'abandoned';
  if (result === Synchronization.WAIT_TIMEOUT) return 'busy';
  throw lastError('WaitForSingleObject', mutex.name);
}

/**
 * Release a mutex the calling thread owns (`ERROR_NOT_OWNER` as `Win32Error` otherwise).
 *
 * @example
 * ```ts
 * releaseMutex(mutex);
 * mutex.close();
 * ```
 */
export function releaseMutex(mutex: Win32Handle): void {
  checkBool(kernel32().ReleaseMutex(mutex.value), 'ReleaseMutex', mutex.name);
}
