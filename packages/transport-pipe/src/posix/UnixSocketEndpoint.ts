/**
 * The meeting point of one bus on POSIX: a Unix socket in a private directory.
 *
 * @module
 */
import { chmod } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { ConfigurationError, DEFAULT_MAX_FRAME_SIZE, type PeerIdentity } from '@busway/core';
import {
  AddressInUseError,
  SocketReadBuffer,
  StreamFrameLink,
  type FrameLink,
  type HubEndpoint,
  type HubListener,
  type StreamFrameLinkOptions,
} from '@busway/core/internal';
import { ConnectTimeoutError, PeerRejectedError } from '../errors.js';
import { checkPipeName } from '../PipeUrl.js';
import { readPeerCredentials } from './PeerCredentials.js';
import { prepareSecureSocketDirectory } from './SecureSocketDirectory.js';
import { probeSocket, replaceStaleSocket } from './StaleSocketReplacer.js';

/** Options of a {@link UnixSocketEndpoint}. */
export interface UnixSocketEndpointOptions {
  /** Largest frame accepted or sent, in bytes, prefix excluded. Default: 16 MiB (`DEFAULT_MAX_FRAME_SIZE`). */
  readonly maxFrameSize: number;
  /**
   * A frame, once its first byte has arrived, must be complete within this many milliseconds or
   * the link is dropped with `StalledFrameError` (core's `StreamFrameLink` `frameTimeout`). Default: 5000.
   */
  readonly stallTimeout: number;
  /**
   * Bytes that may wait for the kernel: once more than this is queued, `send` refuses with
   * `BufferFullError` (a hub then drops that slow member). Default: 8 MiB.
   */
  readonly maxWriteBuffer: number;
  /**
   * Directory holding the socket; must be (or will be made) private to the user.
   * Default: `$XDG_RUNTIME_DIR/busway`, else `<tmpdir>/busway-<uid>` (see `prepareSecureSocketDirectory`).
   */
  readonly directory: string;
  /** How long a probe of an existing socket waits for an answer, in milliseconds. Default: 1000. */
  readonly probeTimeout: number;
  /** How long `connect()` waits for the hub to accept, in milliseconds. Default: 5000. */
  readonly connectTimeout: number;
}

// sun_path is 108 bytes on Linux and 104 on the BSDs and macOS, NUL included.
const MAX_SOCKET_PATH = process.platform === 'linux' ? 107 : 103;

/**
 * Binds or connects to the Unix socket `<directory>/<name>.sock` of one bus.
 *
 * `listen` becomes the hub: it binds the socket, replacing a stale file left by a dead hub (see
 * `replaceStaleSocket`), and fails with `AddressInUseError` (from `@busway/core/internal`) when a live hub answers.
 * `connect` joins as a member. Both sides learn the other's pid and uid through `SO_PEERCRED`
 * and drop a peer running as another user (the directory already keeps them out; this is the
 * second line of defence).
 *
 * @example
 * ```ts
 * const endpoint = new UnixSocketEndpoint('orders');
 * try {
 *   await endpoint.listen((link) => hub.add(link));
 * } catch (err) {
 *   if (!(err instanceof AddressInUseError)) throw err;
 *   const link = await endpoint.connect();
 * }
 * ```
 */
export class UnixSocketEndpoint implements HubEndpoint {
  /** The bus name. */
  readonly name: string;
  readonly #options: Readonly<Partial<UnixSocketEndpointOptions>>;
  #path: string | undefined;

  constructor(name: string, options: Readonly<Partial<UnixSocketEndpointOptions>> = {}) {
    this.name = checkPipeName(name);
    this.#options = options;
  }

  /** The address, for messages: the socket path once resolved, else `pipe://<name>`. */
  get description(): string {
    return this.#path ?? `pipe://${this.name}`;
  }

  /** The socket path, once resolved by `listen`, `connect` or `resolvePath`. */
  get path(): string | undefined {
    return this.#path;
  }

  /**
   * Prepare the private directory and return the socket path.
   *
   * @example
   * ```ts
   * const path = await new UnixSocketEndpoint('orders').resolvePath();
   * ```
   */
  async resolvePath(): Promise<string> {
    if (this.#path !== undefined) return this.#path;
    const directory = await prepareSecureSocketDirectory(
      this.#options.directory === undefined ? {} : { directory: this.#options.directory },
    );
    const path = join(directory, `${this.name}.sock`);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new ConfigurationError(
        `socket path ${path} is longer than the ${MAX_SOCKET_PATH} bytes a Unix socket address holds; choose a shorter directory or name`,
      );
    }
    this.#path = path;
    return path;
  }

  /**
   * Become the hub: bind the socket and hand every accepted member to `onLink`.
   * Rejects with `AddressInUseError` when a live hub already serves the name. Closing the
   * listener stops accepting, closes every accepted link, and removes the socket file.
   */
  async listen(onLink: (link: FrameLink) => void): Promise<HubListener> {
    const path = await this.resolvePath();
    const probeTimeout = this.#options.probeTimeout ?? 1000;
    // Bounded: each round either binds, finds a live hub, or removes one stale file; losing a race
    // to a concurrent member three times in a row means someone else is now the hub.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const accepted = new Set<StreamFrameLink>();
      // pauseOnConnect: a link reads nothing before its consumer calls start().
      const server = createServer({ pauseOnConnect: true }, (socket) => {
        const link = this.#accept(socket);
        if (link === undefined) return;
        accepted.add(link);
        socket.once('close', () => accepted.delete(link));
        onLink(link);
      });
      const error = await bind(server, path);
      if (error === undefined) {
        // The directory is already 0700; 0600 on the file is belt and braces should it be moved.
        await chmod(path, 0o600);
        let closing: Promise<void> | undefined;
        return {
          close: () =>
            (closing ??= new Promise<void>((resolve) => {
              // libuv removes the socket file when the listening handle closes.
              server.close(() => resolve());
              for (const link of accepted) link.close();
            })),
        };
      }
      if (error.code !== 'EADDRINUSE') throw error;
      const probe = await probeSocket(path, probeTimeout);
      if (probe.state === 'live') throw new AddressInUseError(path, { cause: error });
      if (probe.state === 'foreign') {
        throw new ConfigurationError(
          `${path} exists and is not a socket owned by the current user; remove it by hand`,
          { cause: error },
        );
      }
      if (probe.state === 'stale' && !(await replaceStaleSocket(path, probeTimeout))) {
        throw new AddressInUseError(path, { cause: error });
      }
    }
    throw new AddressInUseError(path);
  }

  /**
   * Join as a member: connect to the hub's socket. Rejects with the socket error (`ENOENT`,
   * `ECONNREFUSED`: no hub) or {@link PeerRejectedError} when the hub runs as another user.
   *
   * The link reads into one reused buffer (`onread`), so its frames are valid only during
   * `onFrame`: a member's link delivers to its own bus, which copies what it keeps. The hub's
   * accepted links read `'data'` chunks (Node offers no `onread` for accepted sockets, and the
   * hub keeps frames it forwards until the end of the turn).
   */
  async connect(): Promise<StreamFrameLink> {
    const path = await this.resolvePath();
    const timeout = this.#options.connectTimeout ?? 5000;
    const reads = new SocketReadBuffer();
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ path, onread: reads.onread });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ConnectTimeoutError(path, timeout));
      }, timeout);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const peer = readPeerCredentials(socket);
    const rejected = this.#checkPeer(peer?.uid);
    if (rejected !== undefined) {
      socket.destroy();
      throw rejected;
    }
    return new StreamFrameLink(socket, { ...this.#linkOptions(peer), reads });
  }

  #accept(socket: Socket): StreamFrameLink | undefined {
    const peer = readPeerCredentials(socket);
    if (this.#checkPeer(peer?.uid) !== undefined) {
      socket.destroy();
      return undefined;
    }
    return new StreamFrameLink(socket, this.#linkOptions(peer));
  }

  #checkPeer(uid: number | undefined): PeerRejectedError | undefined {
    const own = process.getuid?.();
    if (uid === undefined || own === undefined || uid === own) return undefined;
    return new PeerRejectedError(
      `peer on ${this.#path ?? this.name} runs as uid ${uid}, not as the current user (uid ${own})`,
    );
  }

  #linkOptions(peer: PeerIdentity | undefined): StreamFrameLinkOptions {
    const { maxFrameSize = DEFAULT_MAX_FRAME_SIZE, stallTimeout = 5000, maxWriteBuffer } = this.#options;
    return {
      maxFrameSize,
      frameTimeout: stallTimeout,
      ...(maxWriteBuffer === undefined ? {} : { writeBufferLimit: maxWriteBuffer }),
      ...(peer === undefined ? {} : { peer }),
    };
  }
}

function bind(server: Server, path: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => resolve(err);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}
