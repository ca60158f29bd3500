/**
 * Ownership of Win32 handles. Every handle busway opens is wrapped in a {@link Win32Handle} that
 * closes it exactly once. A handle that is garbage collected while still open is closed by a
 * `FinalizationRegistry` and reported as a leak: closing it silently would hide the bug, and not
 * closing it would exhaust the process's handle table in a long-lived server.
 *
 * @module
 */
import { ClosedError } from '@busway/core';
import { kernel32, type HandleValue } from './kernel32.js';
import { lastError } from './last-error.js';

/**
 * What is known about an open handle, for leak reports and {@link openHandles}.
 *
 * @example
 * ```ts
 * for (const { kind, name }: HandleInfo of openHandles()) console.log(kind, name);
 * ```
 */
export interface HandleInfo {
  /** Numeric value of the handle. */
  readonly value: HandleValue;
  /** What kind of object it is, for example `named-pipe`, `event`, `completion-port`. */
  readonly kind: string;
  /** The object's name, when it has one. */
  readonly name: string | undefined;
}

/** Handles not yet closed, keyed by a serial number (a handle value is reused once closed). */
const open = new Map<number, HandleInfo>();
const leaks: HandleInfo[] = [];
let serial = 0;

const registry = new FinalizationRegistry<number>((id) => {
  const info = open.get(id);
  if (info === undefined) return;
  open.delete(id);
  leaks.push(info);
  // Best effort: a failure here has nobody to report to, and the leak itself is reported below.
  kernel32().CloseHandle(info.value);
  process.emitWarning(
    `busway: a ${info.kind} handle${info.name === undefined ? '' : ` (${info.name})`} was garbage collected without close(); it has been closed`,
    { code: 'BUSWAY_HANDLE_LEAK' },
  );
});

/**
 * An owned Win32 handle, closed exactly once by {@link Win32Handle.close}.
 *
 * @example
 * ```ts
 * const event = createEvent({ name: 'Local\\ready' });
 * try {
 *   setEvent(event);
 * } finally {
 *   event.close();
 * }
 * ```
 */
export class Win32Handle {
  /** What kind of object the handle refers to, for example `named-pipe`. */
  readonly kind: string;
  /** The object's name, when it has one. */
  readonly name: string | undefined;
  #value: HandleValue | undefined;
  readonly #id: number;

  /**
   * Take ownership of a raw handle value. Used by the functions that open handles; there is no
   * reason to call it otherwise.
   */
  constructor(value: HandleValue, kind: string, name?: string) {
    this.#value = value;
    this.kind = kind;
    this.name = name;
    serial += 1;
    this.#id = serial;
    open.set(this.#id, { value, kind, name });
    registry.register(this, this.#id, this);
  }

  /**
   * The raw handle value, for passing to a binding. Throws `ClosedError` once closed, so a stale
   * value (possibly reused by a newer handle) is never handed to Win32.
   */
  get value(): HandleValue {
    if (this.#value === undefined) throw new ClosedError(`the ${this.kind} handle is closed`);
    return this.#value;
  }

  /** Whether {@link Win32Handle.close} has been called. */
  get closed(): boolean {
    return this.#value === undefined;
  }

  /**
   * Give the handle away without closing it: for a new owner that closes it itself (libuv, once
   * `openPipeSocket` has handed it over). This wrapper is closed afterwards, as if by
   * `close()`, and no longer counts in {@link openHandles}.
   *
   * @example
   * ```ts
   * const raw = handle.release(); // the caller now owns `raw`
   * ```
   */
  release(): HandleValue {
    const value = this.value;
    this.#value = undefined;
    open.delete(this.#id);
    registry.unregister(this);
    return value;
  }

  /**
   * Close the handle. Idempotent: later calls do nothing. Throws `Win32Error` if `CloseHandle`
   * fails (the handle is considered closed anyway: retrying could close a reused value).
   */
  close(): void {
    const value = this.#value;
    if (value === undefined) return;
    this.#value = undefined;
    open.delete(this.#id);
    registry.unregister(this);
    if (kernel32().CloseHandle(value) === 0) throw lastError('CloseHandle', this.kind);
  }
}

/**
 * Handles opened through busway and not closed yet. A test suite asserts this is empty at its
 * end to prove it leaked nothing.
 *
 * @example
 * ```ts
 * afterAll(() => expect(openHandles()).toEqual([]));
 * ```
 */
export function openHandles(): HandleInfo[] {
  return [...open.values()];
}

/**
 * Handles the finalizer had to close because their owner was garbage collected without calling
 * `close()`; a leak in the code that opened them.
 *
 * @example
 * ```ts
 * expect(leakedHandles()).toEqual([]);
 * ```
 */
export function leakedHandles(): HandleInfo[] {
  return [...leaks];
}
