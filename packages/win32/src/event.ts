/**
 * Win32 event objects: a flag one process sets and others wait on.
 *
 * @module
 */
import { Synchronization } from './constants.js';
import { Win32Handle } from './handle.js';
import { kernel32 } from './kernel32.js';
import { checkBool, checkHandle } from './last-error.js';
import { kernelObjectName } from './object-names.js';
import { assertWindows } from './platform-error.js';
import { withSecurityAttributes } from './security-attributes.js';

/**
 * Options of {@link createEvent}; every field documents its default.
 *
 * @example
 * ```ts
 * createEvent({ name: 'orders-ready', manualReset: false } satisfies EventOptions);
 * ```
 */
export interface EventOptions {
  /** Name, to share the event between processes (`Local\` prefix added). Default: unnamed. */
  readonly name?: string;
  /** Stays signaled until reset (true, default) or resets when one waiter is released (false). */
  readonly manualReset?: boolean;
  /** Created signaled. Default false. */
  readonly initialState?: boolean;
  /** SDDL of the event's security descriptor. Default: current user and SYSTEM only. */
  readonly sddl?: string;
}

/**
 * Create an event (or open it, if a named one exists).
 *
 * @example
 * ```ts
 * const ready = createEvent({ name: 'orders-ready' });
 * ```
 */
export function createEvent(options: EventOptions = {}): Win32Handle {
  assertWindows('createEvent');
  const name = options.name === undefined ? null : kernelObjectName(options.name);
  const raw = withSecurityAttributes(options.sddl, (sa) =>
    kernel32().CreateEventW(sa, (options.manualReset ?? true) ? 1 : 0, options.initialState === true ? 1 : 0, name),
  );
  return new Win32Handle(checkHandle(raw, 0, 'CreateEventW', name ?? undefined), 'event', name ?? undefined);
}

/**
 * Open an existing named event, to set it and wait on it.
 *
 * @example
 * ```ts
 * const ready = openEvent('orders-ready');
 * setEvent(ready);
 * ```
 */
export function openEvent(name: string): Win32Handle {
  assertWindows('openEvent');
  const full = kernelObjectName(name);
  const raw = kernel32().OpenEventW(Synchronization.EVENT_MODIFY_STATE | Synchronization.SYNCHRONIZE, 0, full);
  return new Win32Handle(checkHandle(raw, 0, 'OpenEventW', full), 'event', full);
}

/**
 * Signal an event.
 *
 * @example
 * ```ts
 * setEvent(ready);
 * ```
 */
export function setEvent(event: Win32Handle): void {
  checkBool(kernel32().SetEvent(event.value), 'SetEvent', event.name);
}

/**
 * Reset a manual-reset event to non-signaled.
 *
 * @example
 * ```ts
 * resetEvent(ready);
 * ```
 */
export function resetEvent(event: Win32Handle): void {
  checkBool(kernel32().ResetEvent(event.value), 'ResetEvent', event.name);
}
