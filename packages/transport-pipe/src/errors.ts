/**
 * Failures specific to the pipe transport. Each extends `BuswayError` from `@busway/core` and has
 * a stable `code`; the generic ones (bad frames, oversized frames, stalled frames, bad URLs) reuse
 * core's classes.
 *
 * @module
 */
import { BuswayError, type BuswayErrorOptions } from '@busway/core';

/**
 * The directory meant to hold the bus's Unix socket is not private to the current user: wrong
 * owner, group or other permission bits, or not a real directory (a symlink, a file). Busway
 * refuses to use it rather than repair it, because anything already inside may have been planted.
 *
 * @example
 * ```ts
 * try {
 *   await prepareSecureSocketDirectory();
 * } catch (err) {
 *   if (err instanceof InsecureSocketDirectoryError) console.error(`fix ${err.path}: ${err.message}`);
 * }
 * ```
 */
export class InsecureSocketDirectoryError extends BuswayError {
  /** The directory that was rejected. */
  readonly path: string;

  constructor(path: string, reason: string, options?: BuswayErrorOptions) {
    super('INSECURE_SOCKET_DIRECTORY', `refusing to use ${path} for sockets: ${reason}`, options);
    this.name = 'InsecureSocketDirectoryError';
    this.path = path;
  }
}

/**
 * A peer began a frame and did not finish it within the stall timeout. Core's class (every stream
 * link reports it), re-exported here where this package's users and its Win32 links find it.
 */
export { StalledFrameError } from '@busway/core/internal';

/**
 * A peer's identity, as the operating system reported it, is not acceptable: on POSIX a hub
 * running as another user. The 0700 socket directory already keeps other users out; this check is
 * the second line of defence should the directory have been swapped.
 *
 * @example
 * ```ts
 * link.closed.then((reason) => {
 *   if (reason instanceof PeerRejectedError) log.error(reason.message);
 * });
 * ```
 */
export class PeerRejectedError extends BuswayError {
  constructor(message: string, options?: BuswayErrorOptions) {
    super('PEER_REJECTED', message, options);
    this.name = 'PeerRejectedError';
  }
}

/**
 * The hub did not accept a connection within the connect timeout (on Win32: every pipe instance
 * stayed busy, `ERROR_PIPE_BUSY`, for that long).
 *
 * @example
 * ```ts
 * try {
 *   await endpoint.connect();
 * } catch (err) {
 *   if (err instanceof ConnectTimeoutError) console.warn(`hub at ${err.address} is not accepting`);
 * }
 * ```
 */
export class ConnectTimeoutError extends BuswayError {
  /** The socket path or pipe name. */
  readonly address: string;
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number;

  constructor(address: string, timeout: number, options?: BuswayErrorOptions) {
    super('CONNECT_TIMEOUT', `${address} did not accept a connection within ${timeout} ms`, options);
    this.name = 'ConnectTimeoutError';
    this.address = address;
    this.timeout = timeout;
  }
}

/**
 * The pipe name of the bus is held by a process that is not a busway hub: it did not complete
 * busway's handshake. A member never joins such a pipe, nor hands it frames. The holder's process
 * id, as `GetNamedPipeServerProcessId` reported it on the member's end of the pipe, is in
 * `serverPid` and in the message, so that the squatter can be found.
 *
 * @example
 * ```ts
 * try {
 *   await endpoint.connect();
 * } catch (err) {
 *   if (err instanceof PipeSquattedError) console.error(`${err.address} is held by process ${err.serverPid ?? '?'}`);
 * }
 * ```
 */
export class PipeSquattedError extends BuswayError {
  /** The pipe path. */
  readonly address: string;
  /**
   * The process id of the server holding the pipe (for a pipe on another machine, a process id
   * there); undefined when Windows would not say (the holder had already disconnected us).
   */
  readonly serverPid: number | undefined;

  constructor(address: string, reason: string, serverPid: number | undefined, options?: BuswayErrorOptions) {
    const holder = serverPid === undefined ? 'a process' : `process ${serverPid}`;
    super('PIPE_SQUATTED', `${address} is held by ${holder}, which is not a busway hub (${reason})`, options);
    this.name = 'PipeSquattedError';
    this.address = address;
    this.serverPid = serverPid;
  }
}

/**
 * No member can become the hub of the bus, nor join one: another process holds the name's claim
 * (the named mutex the hub holds, `Local\\busway-pipe-…`) but serves no pipe of that name. A
 * squatter, or a hub hung between taking the claim and creating its pipe. Members keep retrying
 * (the holder may yet serve or die); a first `open()` fails with `ConnectionLostError` whose
 * `cause` is this error once `openTimeout` has passed.
 *
 * @example
 * ```ts
 * try {
 *   await endpoint.connect();
 * } catch (err) {
 *   if (err instanceof PipeNameHeldError) console.error(`${err.address}: ${err.message}`);
 * }
 * ```
 */
export class PipeNameHeldError extends BuswayError {
  /** The pipe path. */
  readonly address: string;

  constructor(address: string, options?: BuswayErrorOptions) {
    super(
      'PIPE_NAME_HELD',
      `${address} does not exist, yet another process holds its hub claim (a named mutex): it holds the name without serving it`,
      options,
    );
    this.name = 'PipeNameHeldError';
    this.address = address;
  }
}

/**
 * The process holding the bus's pipe did not complete busway's handshake, but did not answer
 * wrongly either: it closed the pipe during the handshake (`reason: 'closed'`, for example a hub
 * that is dying or dropping this member) or said nothing within `handshakeTimeout`
 * (`reason: 'silent'`, a hub too busy or hung, or a squatter that never answers). Unlike
 * {@link PipeSquattedError} it does not say the holder is no busway hub: it may well be one.
 *
 * @example
 * ```ts
 * try {
 *   await endpoint.connect();
 * } catch (err) {
 *   if (err instanceof PipeHandshakeError && err.reason === 'silent') console.warn(`${err.address}: hub ${err.serverPid} is not answering`);
 * }
 * ```
 */
export class PipeHandshakeError extends BuswayError {
  /** The pipe path. */
  readonly address: string;
  /** `'closed'`: the holder closed the pipe before welcoming us; `'silent'`: no answer in time. */
  readonly reason: 'closed' | 'silent';
  /** The holder's process id, as `GetNamedPipeServerProcessId` reported it; undefined when unknown. */
  readonly serverPid: number | undefined;

  constructor(
    address: string,
    reason: 'closed' | 'silent',
    detail: string,
    serverPid: number | undefined,
    options?: BuswayErrorOptions,
  ) {
    const holder = serverPid === undefined ? 'the process holding it' : `process ${serverPid}, which holds it,`;
    const what = reason === 'closed' ? 'closed the pipe during the handshake' : 'did not answer the handshake';
    super('PIPE_HANDSHAKE_FAILED', `${address}: ${holder} ${what} (${detail})`, options);
    this.name = 'PipeHandshakeError';
    this.address = address;
    this.reason = reason;
    this.serverPid = serverPid;
  }
}
