/**
 * The `pipe://` transport factory that `createBus` loads.
 *
 * @module
 */
import { ConfigurationError, type Transport, type TransportContext, type TransportFactory } from '@busway/core';
import { HubTransport, type HubTransportOptions } from '@busway/core/internal';
import { parsePipeUrl } from './PipeUrl.js';
import { UnixSocketEndpoint, type UnixSocketEndpointOptions } from './posix/UnixSocketEndpoint.js';
import { NamedPipeEndpoint, type NamedPipeEndpointOptions } from './win32/NamedPipeEndpoint.js';

/**
 * Options of the pipe transport, passed as `createBus(url, { transportOptions })`. Every field is
 * optional; the defaults are those of the pieces it configures. The same options mean the same on
 * Windows and POSIX: `stallTimeout` is a deadline for a whole frame from its first byte on both,
 * `maxWriteBuffer` the bound on bytes waiting to be written. An option of one platform is
 * ignored on the other, where nothing it governs exists: `sddl`, `maxInstances`,
 * `acceptRemoteClients` (a Unix socket is never reachable from another machine),
 * `handshakeTimeout`, `pipeIo` and `readBufferSize` on POSIX, `directory` on Windows. In
 * particular POSIX has no handshake: a client that connects and stays silent is not dropped
 * there (a frame it begins must still end within `stallTimeout`).
 *
 * Remote access on Windows takes two explicit choices, one per direction: `acceptRemoteClients:
 * true` on the members of the machine that hosts the bus (any of them may become the hub, so all
 * of them), and `allowRemote: true` with `pipe://thathost/name` on the members elsewhere.
 *
 * @example
 * ```ts
 * const options = { stallTimeout: 2000, acceptRemoteClients: true } satisfies PipeTransportOptions;
 * const bus = await createBus('pipe://orders', { transportOptions: options });
 * ```
 */
export type PipeTransportOptions = Readonly<
  Partial<
    HubTransportOptions &
      UnixSocketEndpointOptions &
      Omit<NamedPipeEndpointOptions, 'server'> & {
        /**
         * Allow `pipe://server/name`: join a hub on another Windows machine (as a client only).
         * The outgoing half of remote access; the incoming half, letting members on other
         * machines join a hub created here, is `acceptRemoteClients`. Each is its own explicit
         * choice: joining a remote bus need not expose this machine's. Default: false.
         */
        allowRemote: boolean;
      }
  >
>;

/**
 * Build the transport for `pipe://name`: a hub transport whose members meet at a Win32 named pipe
 * `\\.\pipe\busway\<name>` on Windows (byte mode, created and secured through `@busway/win32`, its bytes moved by libuv),
 * and at a Unix socket in a private directory on POSIX.
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
    if (options.allowRemote !== true)
      throw new ConfigurationError(`${url.href} names a remote pipe; set allowRemote: true to use one`);
  }
  if (process.platform === 'win32') {
    const endpoint = new NamedPipeEndpoint(address.name, {
      maxFrameSize: context.maxFrameSize,
      ...options,
      server: address.server,
    });
    // A member of a remote pipe can only connect: the hub must be on the pipe's own machine.
    const hubOptions = address.server === undefined ? options : { ...options, canBeHub: false };
    return new HubTransport(endpoint, { maxFrameSize: context.maxFrameSize, memberId: context.memberId }, hubOptions);
  }
  const endpoint = new UnixSocketEndpoint(address.name, { maxFrameSize: context.maxFrameSize, ...options });
  return new HubTransport(endpoint, { maxFrameSize: context.maxFrameSize, memberId: context.memberId }, options);
};
