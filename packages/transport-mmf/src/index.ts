/**
 * `@busway/transport-mmf`: busway over shared memory. `mmf://name?size=16MiB` maps one broadcast
 * ring per bus name; every member publishes into it and reads from it. The ring itself
 * ({@link SharedRing}, {@link RingReader}) is usable on its own, over any `ArrayBuffer`.
 *
 * @example
 * ```ts
 * import { createBus } from '@busway/core';
 * const bus = await createBus('mmf://orders?size=16MiB');
 * bus.subscribe('orders.*').subscribe((m) => console.log(m.topic, m.data));
 * await bus.publish('orders.created', { id: 1 });
 * ```
 *
 * @module
 */
import type { TransportFactory } from '@busway/core';
import { MmfTransport } from './mmf-transport.js';

export { MmfTransport } from './mmf-transport.js';
export type { MmfTransportOptions, ResolvedMmfOptions } from './mmf-options.js';
export { parseSize } from './mmf-options.js';
export { SharedRing, maxPayloadFor } from './shared-ring.js';
export type { RingClaim, RingFormatOptions } from './shared-ring.js';
export { RingReader } from './ring-reader.js';
export type { PollResult, RingReaderOptions, RingReaderStats } from './ring-reader.js';
export * from './ring-layout.js';
export * from './errors.js';
export type { RingScope } from './ring-mapping.js';

/**
 * The factory `createBus('mmf://…')` loads.
 *
 * @example
 * ```ts
 * registerTransport('mmf', createTransport);
 * ```
 */
export const createTransport: TransportFactory = (url, context) => new MmfTransport(url, context);
