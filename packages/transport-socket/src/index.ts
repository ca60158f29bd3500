/**
 * `@busway/transport-socket`: busway over TCP, TLS and UDP, and the socket mechanism on its own.
 *
 * @example
 * ```ts
 * import { createBus } from '@busway/core';
 * const bus = await createBus('tcp://127.0.0.1:7400'); // the first member binds and is the hub
 * ```
 *
 * @module
 */
export { createTransport, type SocketTransportOptions } from './create-transport.js';
export { FramedTcpServer, type FramedTcpServerStats } from './framed-tcp-server.js';
export { FramedTcpClient } from './framed-tcp-client.js';
/** One framed connection: core's link over a stream socket (formerly this package's `SocketFrameLink`: see the README). */
export {
  type OnReadOption,
  type ReadConsumer,
  SocketReadBuffer,
  StreamFrameLink,
  StalledFrameError,
  type StreamFrameLinkOptions,
} from '@busway/core/internal';
export {
  UdpEndpoint,
  UDP_TAG_SIZE,
  UDP_TIMESTAMP_SIZE,
  UDP_AUTH_OVERHEAD,
  type UdpEndpointOptions,
  type UdpEndpointStats,
  type DatagramHandler,
} from './udp-endpoint.js';
export { UdpTransport } from './udp-transport.js';
export { TcpHubEndpoint, type TcpHubEndpointOptions } from './tcp-hub-endpoint.js';
export { parseSocketUrl, type SocketAddress } from './socket-url.js';
export { AuthenticationError, HandshakeError } from './socket-errors.js';
export type {
  FramedSocketOptions,
  FramedTcpClientOptions,
  FramedTcpServerOptions,
  TlsSocketOptions,
} from './socket-options.js';
