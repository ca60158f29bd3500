export { AddressInUseError } from './address-in-use-error.js';
export type { FrameLink, FrameLinkSink, HubEndpoint, HubListener } from './frame-link.js';
export {
  HubTransport,
  type HubTransportContext,
  type HubTransportOptions,
  type HubTransportSeams,
} from './hub-transport.js';
export { OutboundBuffer } from './outbound-buffer.js';
export { ReconnectBackoff, type ReconnectBackoffOptions } from './reconnect-backoff.js';
export { StalledFrameError } from './stalled-frame-error.js';
export {
  DEFAULT_READ_BUFFER_SIZE,
  type OnReadOption,
  type ReadConsumer,
  SocketReadBuffer,
} from './socket-read-buffer.js';
export { StreamFrameLink, type StreamFrameLinkOptions } from './stream-frame-link.js';
export { TakeoverReplay } from './takeover-replay.js';
