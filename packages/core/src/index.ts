/**
 * `@busway/core`: the Bus API, the envelope, and the transport registry.
 *
 * @example
 * ```ts
 * import { createBus } from '@busway/core';
 * const bus = await createBus('memory://demo');
 * bus.subscribe('orders.*').subscribe((m) => console.log(m.topic, m.data));
 * await bus.publish('orders.created', { id: 1 });
 * ```
 *
 * @module
 */
export * from './errors.js';
export type {
  ConnectionState,
  FrameWriter,
  InboundFrame,
  PeerIdentity,
  Transport,
  TransportCapabilities,
  TransportContext,
  TransportFactory,
} from './transport.js';
export { FrameKind, PayloadEncoding, DEFAULT_MAX_FRAME_SIZE } from './envelope.js';
export type { Headers } from './envelope.js';
export { msgpackCodec, jsonCodec, rawCodec } from './codec.js';
export type { PayloadCodec } from './codec.js';
export { matchTopic, validatePattern, validateTopic } from './topic.js';
export { createBus } from './create-bus.js';
export { Bus } from './bus.js';
export type { BusOptions } from './bus-options.js';
export type { BusStats, Message, PublishOptions, RequestHandler, RequestOptions, Sender } from './message.js';
export { registerTransport, KNOWN_TRANSPORT_PACKAGES } from './registry.js';
export { MemoryTransport } from './memory-transport.js';
export type { MemoryTransportOptions } from './memory-transport.js';
