/**
 * The factory `createBus` calls for `tcp://`, `tls://` and `udp://`.
 *
 * @module
 */
import { ConfigurationError, type Transport, type TransportContext, type TransportFactory } from '@busway/core';
import { HubTransport, type HubTransportOptions } from '@busway/core/internal';
import type { FramedSocketOptions, TlsSocketOptions } from './socket-options.js';
import { parseSocketUrl } from './socket-url.js';
import { TcpHubEndpoint } from './tcp-hub-endpoint.js';
import type { UdpEndpointOptions } from './udp-endpoint.js';
import { UdpTransport } from './udp-transport.js';

/**
 * Everything `createBus({ url, transportOptions })` may pass to the socket transports. Each field
 * documents its default where it is declared: {@link FramedSocketOptions} (limits, secret, TLS),
 * `HubTransportOptions` (takeover, buffering) and {@link UdpEndpointOptions} (interface, TTL).
 */
export type SocketTransportOptions = FramedSocketOptions &
  HubTransportOptions &
  UdpEndpointOptions &
  Readonly<
    Partial<{
      /** Most simultaneous member connections the hub accepts. Default: 1024. */
      maxConnections: number;
      /** Give up one connection attempt after this many milliseconds. Default: 5000. */
      connectTimeout: number;
    }>
  >;

/**
 * Build the transport for a `tcp://host:port`, `tls://host:port` or `udp://group:port` URL.
 *
 * @example
 * ```ts
 * import { registerTransport } from '@busway/core';
 * import { createTransport } from '@busway/transport-socket';
 * registerTransport('tcp', createTransport); // createBus does this by itself for tcp/tls/udp
 * ```
 */
export const createTransport: TransportFactory = (url: URL, context: TransportContext): Transport => {
  const options = context.options as SocketTransportOptions;
  const { host, port } = parseSocketUrl(url);
  switch (url.protocol) {
    case 'tcp:':
    case 'tls:': {
      const tls: TlsSocketOptions | undefined = url.protocol === 'tls:' ? (options.tls ?? {}) : undefined;
      if (options.tls !== undefined && url.protocol === 'tcp:') {
        throw new ConfigurationError('TLS options were given for a tcp:// URL; use tls:// to encrypt');
      }
      // A member without a certificate cannot serve TLS, so it never tries to become the hub.
      const canServeTls =
        tls === undefined || tls.pfx !== undefined || (tls.key !== undefined && tls.cert !== undefined);
      const endpoint = new TcpHubEndpoint(host, port, { ...options, maxFrameSize: context.maxFrameSize, tls });
      return new HubTransport(endpoint, context, { ...options, canBeHub: (options.canBeHub ?? true) && canServeTls });
    }
    case 'udp:':
      return new UdpTransport(host, port, context, options);
    default:
      throw new ConfigurationError(`@busway/transport-socket does not handle ${url.protocol}// URLs`);
  }
};
