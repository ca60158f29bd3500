/**
 * The meeting point of one bus on Windows: a named pipe, `\\.\pipe\busway\<name>`.
 *
 * @module
 */
import { ConfigurationError, FrameError, FrameTooLargeError, type PeerIdentity } from '@busway/core';
import {
  AddressInUseError,
  SocketReadBuffer,
  StalledFrameError,
  StreamFrameLink,
  type FrameLink,
  type HubEndpoint,
  type HubListener,
} from '@busway/core/internal';
import {
  canOpenPipeSockets,
  getNamedPipeServerProcessId,
  openPipeSocket,
  Win32Error,
  type Win32Handle,
} from '@busway/win32';
import { PipeHandshakeError, PipeNameHeldError, PipeSquattedError } from '../errors.js';
import { NamedPipeClient } from './NamedPipeClient.js';
import { HandshakeLink, PIPE_HELLO, PIPE_WELCOME, sameBytes } from './HandshakeLink.js';
import { NamedPipeServer } from './NamedPipeServer.js';
import { NamedPipeStreamLink, PIPE_LINK_DEFAULTS, type NamedPipeStreamLinkOptions } from './NamedPipeStreamLink.js';
import { sharedCompletionPort } from './sharedCompletionPort.js';

/** Options of a {@link NamedPipeEndpoint}. */
export interface NamedPipeEndpointOptions extends NamedPipeStreamLinkOptions {
  /** SDDL of the pipe; default: the current user and SYSTEM only. A NULL DACL is refused. */
  readonly sddl: string;
  /** Most pipe instances (members connected to this hub + 1), 1–255, 255 meaning unlimited. Default: 255. */
  readonly maxInstances: number;
  /** How long each side waits for the other's handshake message, in milliseconds. Default: 2000. */
  readonly handshakeTimeout: number;
  /** How long `connect()` retries while every instance is busy, in milliseconds. Default: 5000. */
  readonly connectTimeout: number;
  /**
   * Serve members on other machines while this member is the hub: create every pipe instance
   * without `PIPE_REJECT_REMOTE_CLIENTS`. Only `true` lifts the flag. Remote members log on over
   * SMB, so the default DACL (this user and SYSTEM) admits them only as this same (domain)
   * account; widen `sddl` for others. Default: false (remote clients are refused).
   */
  readonly acceptRemoteClients: boolean;
  /**
   * The Windows machine whose pipe to join (`pipe://server/name`); this member then only
   * connects, never becomes the hub. Default: undefined (the local machine).
   */
  readonly server: string | undefined;
  /**
   * Who moves the bytes of a connected pipe. `'libuv'`: the handle is handed to Node's own stream
   * code (`openPipeSocket`) and framed by core's `StreamFrameLink`, as a Unix socket is on POSIX;
   * its reads and writes complete on the event loop's own completion port. `'completion-port'`:
   * overlapped I/O through `@busway/win32`'s completion port, whose completions reach the loop
   * from a worker thread (`NamedPipeStreamLink`); `readBufferSize` applies to it alone. Under
   * Wine `'libuv'` carried 1.9–2.3 times as many 64-byte messages one way (two benchmark runs).
   * One difference shows: an orderly close waits for queued frames up to `stallTimeout` with
   * `'completion-port'`, and up to `StreamFrameLink`'s fixed 2 s with `'libuv'`.
   * Default: `'libuv'` where this Node.js exports libuv's `uv_open_osfhandle` (the official
   * builds do), else `'completion-port'`.
   */
  readonly pipeIo: 'libuv' | 'completion-port';
}

const ERROR_ACCESS_DENIED = 5;
const ERROR_PIPE_BUSY = 231;
const ERROR_FILE_NOT_FOUND = 2;

/**
 * A `HubEndpoint` over Win32 named pipes: byte mode with core's length-prefixed frames (see
 * `NamedPipeStreamLink` for why not message mode). busway creates, secures and connects the pipe
 * through `@busway/win32`; once connected, libuv moves its bytes (see `pipeIo`).
 *
 * `listen` takes the name's hub claim (a named mutex, see `NamedPipeServer.listenHandles`) and
 * creates the pipe with `FILE_FLAG_FIRST_PIPE_INSTANCE`: if the claim is held or the name exists
 * (another member is hub, or a stranger squats it), it fails with `AddressInUseError` and the member
 * connects instead, but only joins a hub that completes busway's handshake (hello / welcome
 * within `handshakeTimeout`); a wrong answer fails with {@link PipeSquattedError}, a holder that
 * closes the pipe or stays silent with {@link PipeHandshakeError}. The hub drops a
 * client whose first message is not the hello. Every instance rejects remote clients unless
 * `acceptRemoteClients` is true, and grants the current user and SYSTEM only unless `sddl` says
 * otherwise. The hub sees each client's process id (`GetNamedPipeClientProcessId`) on frames that
 * came in through it; a member's link to the hub carries the hub's (`GetNamedPipeServerProcessId`),
 * which also names the holder of a squatted pipe in {@link PipeSquattedError}.
 *
 * @example
 * ```ts
 * const transport = new HubTransport(new NamedPipeEndpoint('orders'), { maxFrameSize: 1 << 24 });
 * await transport.open();
 * ```
 */
export class NamedPipeEndpoint implements HubEndpoint {
  /** The pipe path. */
  readonly path: string;
  readonly description: string;
  readonly #options: Readonly<Partial<NamedPipeEndpointOptions>>;
  #server: NamedPipeServer | undefined;

  constructor(name: string, options: Readonly<Partial<NamedPipeEndpointOptions>> = {}) {
    this.path = `\\\\${options.server ?? '.'}\\pipe\\busway\\${name}`;
    this.description = this.path;
    if (options.pipeIo !== undefined && options.pipeIo !== 'libuv' && options.pipeIo !== 'completion-port') {
      throw new ConfigurationError(
        `pipeIo must be 'libuv' or 'completion-port', not ${JSON.stringify(options.pipeIo)}`,
      );
    }
    this.#options = options;
  }

  /** The DACL of the live pipe while this member is the hub (see `NamedPipeServer.readDacl`). */
  readDacl(): string | undefined {
    return this.#server?.readDacl();
  }

  /** Become the hub; `AddressInUseError` when the name is taken or the pipe is remote. */
  async listen(onLink: (link: FrameLink) => void): Promise<HubListener> {
    if (this.#options.server !== undefined) throw new AddressInUseError(this.path); // only the remote machine can serve it
    const accepted = new Set<FrameLink>();
    let server: NamedPipeServer;
    try {
      server = NamedPipeServer.listenHandles(
        this.path,
        false,
        (handle, peer) => {
          let link: FrameLink;
          try {
            link = this.#linkOver(handle, peer, 'data');
          } catch (err) {
            // No descriptor for it (out of them): drop this member, keep serving the others.
            handle.close();
            process.emitWarning(`busway: ${this.path} dropped a member: ${(err as Error).message}`, {
              code: 'BUSWAY_PIPE_ACCEPT',
            });
            return;
          }
          accepted.add(link);
          this.#welcome(
            link,
            (ready) => onLink(ready),
            () => accepted.delete(link),
          );
        },
        this.#options,
        this.#pipeIo === 'libuv',
      );
    } catch (err) {
      // ACCESS_DENIED: FILE_FLAG_FIRST_PIPE_INSTANCE found the name taken. PIPE_BUSY: taken by a
      // server with no free instance. Either way somebody else holds it; connect() finds out who.
      if (err instanceof Win32Error && (err.errno === ERROR_ACCESS_DENIED || err.errno === ERROR_PIPE_BUSY)) {
        throw new AddressInUseError(this.path, { cause: err });
      }
      throw err;
    }
    this.#server = server;
    return {
      close: async () => {
        this.#server = undefined;
        await server.close();
        for (const connection of accepted) connection.close();
      },
    };
  }

  /**
   * Join the hub: open the pipe and complete the handshake. Rejects with
   * {@link PipeSquattedError}, naming the holder's process id, when whoever holds the pipe answers
   * the hello with anything but busway's welcome, and with {@link PipeHandshakeError} when it
   * closes the pipe or says nothing within `handshakeTimeout` (a dying or slow hub looks so too).
   */
  async connect(): Promise<FrameLink> {
    let handle: Win32Handle;
    try {
      handle = await NamedPipeClient.open(this.path, false, this.#options);
    } catch (err) {
      // No pipe, and listen() could not claim the name either: say who is in the way, rather than
      // retrying on a bare "file not found" for as long as the holder lives.
      if (
        err instanceof Win32Error &&
        err.errno === ERROR_FILE_NOT_FOUND &&
        this.#options.server === undefined &&
        NamedPipeServer.claimedElsewhere(this.path)
      ) {
        throw new PipeNameHeldError(this.path, { cause: err });
      }
      throw err;
    }
    // Asked before the handshake: a squatter that hangs up on our hello can no longer be asked.
    const holder = serverProcessId(handle);
    let connection: FrameLink;
    try {
      connection = this.#linkOver(handle, holder.pid === undefined ? undefined : { pid: holder.pid }, 'onread');
    } catch (err) {
      handle.close();
      throw err;
    }
    const squatted = (reason: string, cause?: unknown): PipeSquattedError =>
      new PipeSquattedError(
        this.path,
        holder.unknown === undefined ? reason : `${reason}; ${holder.unknown}`,
        holder.pid,
        {
          cause,
        },
      );
    const link = new HandshakeLink(connection);
    const timeout = this.#options.handshakeTimeout ?? 2000;
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const settle = (error?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (error === undefined) resolve();
        else {
          connection.close();
          reject(error);
        }
      };
      // Closing or silence may be a real hub that is dying or slow: not blamed on a squatter.
      const failed = (reason: 'closed' | 'silent', detail: string, cause?: unknown): PipeHandshakeError =>
        new PipeHandshakeError(
          this.path,
          reason,
          holder.unknown === undefined ? detail : `${detail}; ${holder.unknown}`,
          holder.pid,
          { cause },
        );
      const timer = setTimeout(() => settle(failed('silent', `no busway welcome within ${timeout} ms`)), timeout);
      connection.start({
        onFrame: (message) => {
          if (done) return link.sink.onFrame(message);
          if (sameBytes(message, PIPE_WELCOME)) settle();
          else settle(squatted('it answered the hello with something else'));
        },
        onClose: (error) => {
          if (done) return link.sink.onClose(error);
          // Bytes that are no busway frame (an absurd length, garbage, a frame never finished)
          // are a wrong answer; the holder hanging up, or the pipe breaking, is a close.
          if (error instanceof FrameError || error instanceof FrameTooLargeError || error instanceof StalledFrameError)
            settle(squatted(`it answered the hello with bytes that are no busway frame: ${error.message}`, error));
          else settle(failed('closed', error === undefined ? 'an orderly close' : error.message, error));
        },
      });
      connection.send(PIPE_HELLO);
    });
    return link;
  }

  /** The I/O this endpoint uses, see {@link NamedPipeEndpointOptions.pipeIo}. */
  get #pipeIo(): 'libuv' | 'completion-port' {
    return this.#options.pipeIo ?? (canOpenPipeSockets() ? 'libuv' : 'completion-port');
  }

  /**
   * The framed link over a connected byte-mode pipe handle, which it takes over. With libuv,
   * `'onread'` reads into one reused buffer (a member's link, whose frames go to its own bus,
   * which copies what it keeps); the hub's links read `'data'` chunks, because the hub forwards
   * their frames to other links' `send`, which may keep them until the end of the turn, past the
   * next read into a reused buffer.
   */
  #linkOver(handle: Win32Handle, peer: PeerIdentity | undefined, reading: 'data' | 'onread'): FrameLink {
    if (this.#pipeIo === 'completion-port')
      return new NamedPipeStreamLink(handle, sharedCompletionPort(), this.#options, peer);
    const options = this.#options;
    const reads = reading === 'onread' ? new SocketReadBuffer() : undefined;
    return new StreamFrameLink(openPipeSocket(handle, reads?.onread), {
      maxFrameSize: options.maxFrameSize ?? PIPE_LINK_DEFAULTS.maxFrameSize,
      frameTimeout: options.stallTimeout ?? PIPE_LINK_DEFAULTS.stallTimeout,
      writeBufferLimit: options.maxWriteBuffer ?? PIPE_LINK_DEFAULTS.maxWriteBuffer,
      ...(peer === undefined ? {} : { peer }),
      ...(reads === undefined ? {} : { reads }),
    });
  }

  /** Hub side: the first message must be the hello, within the timeout; answer, then hand out. */
  #welcome(connection: FrameLink, onLink: (link: FrameLink) => void, onGone: () => void): void {
    const link = new HandshakeLink(connection);
    const timeout = this.#options.handshakeTimeout ?? 2000;
    let greeted = false;
    const timer = setTimeout(() => connection.close(new FrameError(`no busway hello within ${timeout} ms`)), timeout);
    connection.start({
      onFrame: (message) => {
        if (greeted) return link.sink.onFrame(message);
        clearTimeout(timer);
        if (!sameBytes(message, PIPE_HELLO)) {
          connection.close(new FrameError('the first frame was not the busway hello'));
          return;
        }
        greeted = true;
        connection.send(PIPE_WELCOME);
        onLink(link);
      },
      onClose: (error) => {
        clearTimeout(timer);
        onGone();
        if (greeted) link.sink.onClose(error);
      },
    });
  }
}

/**
 * Who serves the pipe `handle` is connected to, or why that is unknown. Windows and Wine 8 both
 * answer `GetNamedPipeServerProcessId` on a freshly connected client handle (wineserver keeps
 * the server's pid in the client's end of the pipe). Asked at once, before the
 * server has had a chance to disconnect us; if it fails anyway, the error says so.
 */
function serverProcessId(handle: Win32Handle): { pid: number | undefined; unknown: string | undefined } {
  try {
    return { pid: getNamedPipeServerProcessId(handle), unknown: undefined };
  } catch (err) {
    if (!(err instanceof Win32Error)) {
      handle.close();
      throw err;
    }
    return { pid: undefined, unknown: `its process id is unknown: ${err.message}` };
  }
}
