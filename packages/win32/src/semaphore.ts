/**
 * Win32 semaphores: a counter processes release and wait on (a ring buffer's "items available").
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
 * Options of {@link createSemaphore}; every field documents its default.
 *
 * @example
 * ```ts
 * createSemaphore({ name: 'ring-items', maximumCount: 1024 } satisfies SemaphoreOptions);
 * ```
 */
export interface SemaphoreOptions {
  /** Name, to share the semaphore between processes (`Local\` prefix added). Default: unnamed. */
  readonly name?: string;
  /** Initial count. Default 0. */
  readonly initialCount?: number;
  /** Maximum count. Default 2^31 - 1. */
  readonly maximumCount?: number;
  /** SDDL of the semaphore's security descriptor. Default: current user and SYSTEM only. */
  readonly sddl?: string;
}

/**
 * Create a semaphore (or open it, if a named one exists).
 *
 * @example
 * ```ts
 * const items = createSemaphore({ name: 'orders-items' });
 * ```
 */
export function createSemaphore(options: SemaphoreOptions = {}): Win32Handle {
  assertWindows('createSemaphore');
  const name = options.name === undefined ? null : kernelObjectName(options.name);
  const raw = withSecurityAttributes(options.sddl, (sa) =>
    kernel32().CreateSemaphoreW(sa, options.initialCount ?? 0, options.maximumCount ?? 0x7fffffff, name),
  );
  return new Win32Handle(checkHandle(raw, 0, 'CreateSemaphoreW', name ?? undefined), 'semaphore', name ?? undefined);
}

/**
 * Open an existing named semaphore, to release and wait on it.
 *
 * @example
 * ```ts
 * const items = openSemaphore('orders-items');
 * ```
 */
export function openSemaphore(name: string): Win32Handle {
  assertWindows('openSemaphore');
  const full = kernelObjectName(name);
  const raw = kernel32().OpenSemaphoreW(Synchronization.SEMAPHORE_MODIFY_STATE | Synchronization.SYNCHRONIZE, 0, full);
  return new Win32Handle(checkHandle(raw, 0, 'OpenSemaphoreW', full), 'semaphore', full);
}

/**
 * Add `count` to a semaphore; returns the count before. Throws `Win32Error`
 * (`ERROR_TOO_MANY_POSTS`) past the maximum.
 *
 * @example
 * ```ts
 * releaseSemaphore(items);
 * ```
 */
export function releaseSemaphore(semaphore: Win32Handle, count = 1): number {
  const previous: [number] = [0];
  checkBool(kernel32().ReleaseSemaphore(semaphore.value, count, previous), 'ReleaseSemaphore', semaphore.name);
  return previous[0];
}
