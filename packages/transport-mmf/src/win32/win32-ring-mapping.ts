/**
 * The Win32 backend (named file mapping + named event through `@busway/win32`): not written yet.
 *
 * @module
 */
import { ConfigurationError } from '@busway/core';
import type { RingMapping, RingMappingRequest } from '../ring-mapping.js';

/**
 * Open the ring on Win32. Not implemented yet: rejects with a ConfigurationError.
 *
 * @example
 * ```ts
 * await openWin32Ring({ name: 'orders', capacity: 1 << 24, scope: 'local', initTimeoutMs: 2000 });
 * ```
 */
export async function openWin32Ring(request: RingMappingRequest): Promise<RingMapping> {
  throw new ConfigurationError(`mmf://${request.name}: the Win32 backend is not implemented yet`);
}
