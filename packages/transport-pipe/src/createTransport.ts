/**
 * The `pipe://` transport factory that `createBus` loads.
 *
 * @module
 */
import { ConfigurationError, type Transport, type TransportContext, type TransportFactory } from '@busway/core';
import { HubTransport, type HubTransportOptions } from '@busway/core/internal';
import { parsePipeUrl } from './PipeUrl.js';
import { UnixSocketEndpoint, type UnixSocketEndpointOptions } from './posix/UnixSocketEndpoint.js';

/**
 * Options of the pipe transport, passed as `createBus(url, { transportOptions })`. Every field is
 * optional; the defaults are those of the pieces it configures.
 */
export type PipeTransportOptions = Readonly<
  Partial<
    HubTransportOptions &
      UnixSocketEndpointOptions & {
        /**
         * Allow `pipe://server/name` (a pipe on another Windows machine) and, when this member is
         * the hub, accept remote clients (no `PIPE_REJECT_REMOTE_CLIENTS`). Default: false.
         */
        allowRemote: boolean;
      }
  >
>;

/**
 * Build the transport for `pipe://name`: a hub transport whose members meet at a Unix socket in a
 * private directory on POSIX (a Win32 named pipe on Windows).
 *
 * @example
 * ```ts
 * const bus = await createBus('pipe://orders'); // loads this package and calls createTransport
 * ```
 */
export const createTransport: TransportFactory = (url: URL, context: TransportContext): Transport => {
  const address = parsePipeUrl(url);
  const options = context.options as PipeTransportOptions;
  if (address.server !== undefined) {
    if (process.platform !== 'win32') throw new ConfigurationError(`remote pipes (${url.href}) exist only on Windows`);
    if (options.allowRemote !== true) throw new ConfigurationError(`${url.href} names a remote pipe; set allowRemote: true to use one`);
  }
  if (process.platform === 'win32') {
    throw new ConfigurationError('the Win32 named-pipe endpoint is not wired into createTransport yet');
  }
  const endpoint = new UnixSocketEndpoint(address.name, { maxFrameSize: context.maxFrameSize, ...options });
  return new HubTransport(endpoint, { maxFrameSize: context.maxFrameSize }, options);
};
