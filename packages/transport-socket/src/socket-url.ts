import { ConfigurationError } from '@busway/core';
import { DEFAULT_HOST } from './socket-defaults.js';

/** Host and port named by a `tcp://`, `tls://` or `udp://` URL. */
export interface SocketAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Read host and port from a socket URL. The port is required; an empty host means loopback.
 * IPv6 hosts are written in brackets (`tcp://[::1]:7400`) and returned without them.
 *
 * @example
 * ```ts
 * parseSocketUrl(new URL('tcp://127.0.0.1:7400')); // { host: '127.0.0.1', port: 7400 }
 * ```
 */
export function parseSocketUrl(url: URL): SocketAddress {
  const port = Number(url.port);
  if (url.port === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigurationError(`${url.href} needs a port from 1 to 65535, as in ${url.protocol}//127.0.0.1:7400`);
  }
  const bracketed = url.hostname.startsWith('[') && url.hostname.endsWith(']');
  const host = bracketed ? url.hostname.slice(1, -1) : url.hostname;
  return { host: host === '' ? DEFAULT_HOST : host, port };
}
