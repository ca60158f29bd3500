/**
 * `@busway/transport-mmf/internal`: the platform backends, for sibling packages, tests and
 * benchmarks. Not a stable API.
 *
 * @example
 * ```ts
 * import { openRingMapping } from '@busway/transport-mmf/internal';
 * ```
 *
 * @module
 */
export type { RingMapping, RingMappingRequest } from './ring-mapping.js';
export { resolveMmfOptions } from './mmf-options.js';
export type { ResolvedMmfOptions } from './mmf-options.js';
export { openPosixRing, posixRingName } from './posix/posix-ring-mapping.js';
export { PosixSharedMemory } from './posix/posix-shared-memory.js';
export type { PosixSharedMemoryOptions } from './posix/posix-shared-memory.js';
export { FutexDoorbell } from './posix/futex-doorbell.js';
