/**
 * `@busway/transport-pipe`: the `pipe://` transport. Members of a bus meet at a Win32 named pipe
 * (a Unix domain socket in a private directory on POSIX); the first is the hub.
 *
 * @example
 * ```ts
 * import { createBus } from '@busway/core';
 * const bus = await createBus('pipe://orders'); // this package is loaded for pipe://
 * ```
 *
 * @module
 */
export { createTransport, type PipeTransportOptions } from './createTransport.js';
export { parsePipeUrl, checkPipeName, type PipeAddress } from './PipeUrl.js';
export {
  ConnectTimeoutError,
  InsecureSocketDirectoryError,
  PeerRejectedError,
  PipeHandshakeError,
  PipeNameHeldError,
  PipeSquattedError,
  StalledFrameError,
} from './errors.js';
export { UnixSocketEndpoint, type UnixSocketEndpointOptions } from './posix/UnixSocketEndpoint.js';
/**
 * The Unix-socket link: core's link over a stream socket. It replaces this package's
 * `SocketFrameLink`; the options `stallTimeout` and `maxWriteBuffer` are `frameTimeout` and
 * `writeBufferLimit` there, and the stall timeout is now a deadline for the whole frame.
 */
export {
  type OnReadOption,
  type ReadConsumer,
  SocketReadBuffer,
  StreamFrameLink,
  type StreamFrameLinkOptions,
} from '@busway/core/internal';
export {
  prepareSecureSocketDirectory,
  defaultSocketDirectory,
  verifyPrivateDirectory,
  type SecureSocketDirectoryOptions,
} from './posix/SecureSocketDirectory.js';
export { readPeerCredentials } from './posix/PeerCredentials.js';
export { NamedPipeServer, PipeNameClaimedError, type NamedPipeServerOptions } from './win32/NamedPipeServer.js';
export { NamedPipeClient, type NamedPipeClientOptions } from './win32/NamedPipeClient.js';
export { NamedPipeConnection, type NamedPipeConnectionOptions } from './win32/NamedPipeConnection.js';
export { NamedPipeEndpoint, type NamedPipeEndpointOptions } from './win32/NamedPipeEndpoint.js';
export { NamedPipeStreamLink, type NamedPipeStreamLinkOptions } from './win32/NamedPipeStreamLink.js';
