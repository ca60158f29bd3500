/**
 * Waiting on many events and semaphores without blocking the event loop and without one worker
 * thread per wait. `waitForSingleObjectAsync` parks a libuv worker thread for every pending wait
 * (4 exist by default); a {@link HandleWaiter} instead keeps one koffi async
 * `WaitForMultipleObjects` in flight over every handle waited on (up to 63) plus a private wake
 * event it sets to re-issue the wait when the set changes.
 *
 * @module
 */
import { ClosedError, ConfigurationError } from '@busway/core';
import { INFINITE, Synchronization } from './constants.js';
import { createEvent } from './event.js';
import type { Win32Handle } from './handle.js';
import { kernel32, type Kernel32Bindings } from './kernel32.js';
import { checkBool } from './last-error.js';
import { assertWindows } from './platform-error.js';
import { Win32Error } from './win32-error.js';
import type { WaitResult } from './wait.js';

/** `MAXIMUM_WAIT_OBJECTS` minus the wake event. */
const MAX_HANDLES = 63;

/** Options of {@link HandleWaiter.wait}. */
export interface HandleWaitOptions {
  /** Give up after this many ms and resolve `'timeout'`. Default: wait forever. */
  readonly timeoutMs?: number;
  /** Stop waiting; the wait rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Counters of a {@link HandleWaiter}, for tests. */
export interface HandleWaiterStats {
  /** `WaitForMultipleObjects` calls issued. */
  readonly waits: number;
  /** Most waits ever in flight at once: the worker threads the waiter has blocked. */
  readonly maxWaitsInFlight: number;
  /** JS waits not settled yet. */
  readonly pending: number;
}

interface Waiter {
  readonly handle: Win32Handle;
  readonly deadline: number;
  readonly settle: (result: WaitResult | Error) => void;
}

/**
 * One background wait over many handles.
 *
 * @example
 * ```ts
 * const waiter = new HandleWaiter();
 * const dataReady = openEvent('orders-data');
 * if ((await waiter.wait(dataReady, { timeoutMs: 1000 })) === 'signaled') drainRing();
 * await waiter.close();
 * ```
 */
export class HandleWaiter {
  /** Most distinct handles one waiter waits on at once (`MAXIMUM_WAIT_OBJECTS` less its wake event). */
  static readonly capacity = MAX_HANDLES;

  readonly #k32: Kernel32Bindings;
  readonly #wake: Win32Handle;
  readonly #waiters = new Set<Waiter>();
  #inFlight = false;
  #closed = false;
  #closedDone: (() => void) | undefined;
  #stats = { waits: 0, maxWaitsInFlight: 0 };

  constructor() {
    assertWindows('HandleWaiter');
    this.#k32 = kernel32();
    // Auto-reset: each SetEvent ends exactly one in-flight wait.
    this.#wake = createEvent({ manualReset: false });
  }

  /** Counters, see {@link HandleWaiterStats}. */
  get stats(): HandleWaiterStats {
    // Field by field: `{ ...stats, pending }` takes a slow path in V8 (microseconds a call).
    return { waits: this.#stats.waits, maxWaitsInFlight: this.#stats.maxWaitsInFlight, pending: this.#waiters.size };
  }

  /**
   * Wait until `handle` is signaled (an event set, a semaphore count taken), the timeout passes
   * or the signal aborts. At most 63 distinct handles can be waited on at once. Do not close a
   * handle while it is waited on (Win32 leaves that undefined): abort the wait first.
   *
   * @example
   * ```ts
   * const result = await waiter.wait(items, { timeoutMs: 50 }); // 'signaled' | 'timeout' | 'abandoned'
   * ```
   */
  wait(handle: Win32Handle, options: HandleWaitOptions = {}): Promise<WaitResult> {
    if (this.#closed) return Promise.reject(new ClosedError('the handle waiter is closed'));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const distinct = new Set([...this.#waiters].map((w) => w.handle));
    if (!distinct.has(handle) && distinct.size >= MAX_HANDLES) {
      return Promise.reject(new ConfigurationError(`a HandleWaiter waits on at most ${MAX_HANDLES} handles at once`));
    }
    void handle.value; // throws ClosedError now rather than inside the wait
    return new Promise<WaitResult>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = (): void => waiter.settle(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      const waiter: Waiter = {
        handle,
        deadline: options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs,
        settle: (result) => {
          if (!this.#waiters.delete(waiter)) return;
          signal?.removeEventListener('abort', onAbort);
          if (result instanceof Error) reject(result);
          else resolve(result);
          this.#changed();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      this.#changed();
    });
  }

  /**
   * Reject what is pending with `ClosedError`, end the background wait and close the wake event.
   *
   * @example
   * ```ts
   * await waiter.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of [...this.#waiters]) waiter.settle(new ClosedError('the handle waiter is closed'));
    if (this.#inFlight) {
      await new Promise<void>((resolve) => {
        this.#closedDone = resolve;
        checkBool(this.#k32.SetEvent(this.#wake.value), 'SetEvent', 'HandleWaiter wake');
      });
    }
    this.#wake.close();
  }

  /** The set of waits changed: re-issue the background wait with the new set. */
  #changed(): void {
    if (this.#inFlight) {
      // Wake the in-flight wait; it re-issues itself when it returns.
      checkBool(this.#k32.SetEvent(this.#wake.value), 'SetEvent', 'HandleWaiter wake');
      return;
    }
    this.#issue();
  }

  #issue(): void {
    if (this.#inFlight || this.#closed || this.#waiters.size === 0) return;
    const now = performance.now();
    for (const waiter of [...this.#waiters]) if (waiter.deadline <= now) waiter.settle('timeout');
    if (this.#waiters.size === 0) return;
    const handles = [...new Set([...this.#waiters].map((w) => w.handle))];
    const values = [this.#wake.value, ...handles.map((h) => h.value)];
    const deadline = Math.min(...[...this.#waiters].map((w) => w.deadline));
    const timeout = deadline === Infinity ? INFINITE : Math.max(0, Math.ceil(deadline - now));
    this.#inFlight = true;
    this.#stats.waits += 1;
    this.#stats.maxWaitsInFlight = Math.max(this.#stats.maxWaitsInFlight, 1);
    this.#k32.WaitForMultipleObjects.async(values.length, values, 0, timeout, (err: unknown, result: number) => {
      this.#inFlight = false;
      if (this.#closedDone !== undefined) return this.#closedDone();
      if (err) return this.#failAll(err instanceof Error ? err : new Error(String(err)));
      if (result === Synchronization.WAIT_FAILED) {
        // The worker thread's last error is not visible here: most likely a handle was closed
        // while waited on. Find which, so the others keep waiting.
        return this.#recoverFromFailure(handles);
      }
      const abandoned =
        result >= Synchronization.WAIT_ABANDONED_0 && result < Synchronization.WAIT_ABANDONED_0 + values.length;
      const index = abandoned ? result - Synchronization.WAIT_ABANDONED_0 : result;
      if (index >= 1 && index < values.length) {
        const handle = handles[index - 1];
        // The kernel released one wait on that handle (an auto-reset event or a semaphore count
        // is consumed once): settle the oldest JS wait on it, the others keep waiting.
        const first = [...this.#waiters].find((w) => w.handle === handle);
        first?.settle(abandoned ? 'abandoned' : 'signaled');
      }
      // Index 0 (wake), WAIT_TIMEOUT, or after settling: re-issue with the current set.
      this.#issue();
    });
  }

  #recoverFromFailure(handles: Win32Handle[]): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.handle.closed)
        waiter.settle(new ClosedError(`the ${waiter.handle.kind} handle was closed while waited on`));
    }
    if (this.#waiters.size > 0 && handles.every((h) => !h.closed)) {
      return this.#failAll(new Win32Error('WaitForMultipleObjects', 6, 'WAIT_FAILED on the wait thread'));
    }
    this.#issue();
  }

  #failAll(error: Error): void {
    for (const waiter of [...this.#waiters]) waiter.settle(error);
  }
}
