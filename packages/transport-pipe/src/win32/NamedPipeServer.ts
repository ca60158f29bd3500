/**
 * The server side of a message-mode named pipe, accepting any number of clients.
 *
 * @module
 */
import {
  createNamedPipe,
  getNamedPipeClientProcessId,
  sharedHandleWaiter,
  pipePath,
  readDacl,
  waitForPipeClient,
  waitNamedPipe,
  Win32Error,
  type Win32Handle,
} from '@busway/win32';
import type { PeerIdentity } from '@busway/core';
import { NamedPipeConnection, type NamedPipeConnectionOptions } from './NamedPipeConnection.js';
import { sharedCompletionPort } from './sharedCompletionPort.js';

const ERROR_PIPE_BUSY = 231;
const ERROR_ACCESS_DENIED = 5;
const ERROR_FILE_NOT_FOUND = 2;
const ERROR_BAD_PATHNAME = 161;
const ERROR_NO_DATA = 232;
/** Pause before a new instance after a failed wait, or while every instance is taken. */
const ACCEPT_RETRY_MS = 50;

/** Options of a {@link NamedPipeServer}. */
export interface NamedPipeServerOptions extends NamedPipeConnectionOptions {
  /**
   * SDDL of the pipe's security descriptor. Default: the current user and SYSTEM only
   * (`D:P(A;;GA;;;SY)(A;;GA;;;<user SID>)`). SDDL meaning a NULL DACL is refused.
   */
  readonly sddl: string;
  /**
   * Most instances (connected clients plus the one waiting), 1–255, 255 meaning unlimited.
   * Default: 255.
   */
  readonly maxInstances: number;
  /**
   * Accept clients on other machines (`\\thishost\pipe\name`): create every instance without
   * `PIPE_REJECT_REMOTE_CLIENTS`. Only `true` lifts the flag: serving the network is always an
   * explicit choice. Remote clients still pass the DACL (by default this user and SYSTEM only).
   * Default: false.
   */
  readonly acceptRemoteClients: boolean;
}

/**
 * A named pipe server in message mode, for talking to plain Win32 programs: each client
 * connection is a {@link NamedPipeConnection} (one `WriteFile` = one message).
 *
 * Safe by default: the first instance is created with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so if any
 * other process already owns the name (pipe squatting) `listen` fails with `Win32Error`
 * `ERROR_ACCESS_DENIED` instead of quietly sharing it; every instance rejects remote clients
 * (`PIPE_REJECT_REMOTE_CLIENTS`, unless `acceptRemoteClients: true`) and carries a DACL granting
 * the current user and SYSTEM only.
 * One instance always waits in an overlapped `ConnectNamedPipe`; when a client takes it, the next
 * is created, so clients rarely see `ERROR_PIPE_BUSY` (and {@link NamedPipeClient} retries then).
 *
 * @example
 * ```ts
 * const server = NamedPipeServer.listen('legacy-app', (connection) => {
 *   connection.start({ onFrame: (m) => connection.send(m), onClose: () => {} }); // echo
 * });
 * // later
 * await server.close();
 * ```
 */
export class NamedPipeServer {
  /** The full pipe path, `\\.\pipe\<name>`. */
  readonly path: string;
  readonly #options: Readonly<Partial<NamedPipeServerOptions>>;
  readonly #onInstance: (instance: Win32Handle, peer: PeerIdentity | undefined) => void;
  readonly #messageMode: boolean;
  /**
   * Instances go to libuv once connected (`openPipeSocket`): their client waits are signalled
   * through events, waited on by the process's shared waiter, never through a completion port
   * (see `listenHandles`).
   */
  readonly #forLibuv: boolean;
  #cancelWait: (() => void) | undefined;
  /** The current event wait, settled or not; resolves either way. */
  #settledWait: Promise<void> = Promise.resolve();
  #waiting: Win32Handle;
  #closed = false;
  #retry: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    path: string,
    first: Win32Handle,
    messageMode: boolean,
    onInstance: (instance: Win32Handle, peer: PeerIdentity | undefined) => void,
    options: Readonly<Partial<NamedPipeServerOptions>>,
    forLibuv: boolean,
  ) {
    this.path = path;
    this.#waiting = first;
    this.#messageMode = messageMode;
    this.#forLibuv = forLibuv;
    this.#onInstance = onInstance;
    this.#options = options;
    this.#accept(first);
  }

  /**
   * Create the pipe (its first instance) and start accepting. Throws `Win32Error`
   * (`ERROR_ACCESS_DENIED`) when the name is already owned by another server, squatter or not.
   * `name` is a short name or a full `\\.\pipe\…` path.
   */
  static listen(
    name: string,
    onConnection: (connection: NamedPipeConnection) => void,
    options: Readonly<Partial<NamedPipeServerOptions>> = {},
  ): NamedPipeServer {
    const port = sharedCompletionPort();
    return NamedPipeServer.listenHandles(
      name,
      true,
      (instance, peer) => onConnection(new NamedPipeConnection(instance, port, options, peer)),
      options,
    );
  }

  /**
   * The same server, handing out each connected instance's handle (message or byte mode) rather
   * than a `NamedPipeConnection`: for links that do their own I/O, like the hub's byte stream.
   *
   * `forLibuv`: the handles will be given to libuv (`openPipeSocket`). A handle can be associated
   * with one completion port only, for life, so then no instance ever touches this package's
   * port: each waits for its client through an event instead. Default: false (the shared port).
   *
   * @example
   * ```ts
   * NamedPipeServer.listenHandles('orders', false, (handle, peer) => links.add(new StreamFrameLink(openPipeSocket(handle), { peer })), {}, true);
   * ```
   */
  static listenHandles(
    name: string,
    messageMode: boolean,
    onInstance: (instance: Win32Handle, peer: PeerIdentity | undefined) => void,
    options: Readonly<Partial<NamedPipeServerOptions>> = {},
    forLibuv = false,
  ): NamedPipeServer {
    const path = pipePath(name);
    refuseExistingName(path);
    const first = createNamedPipe(path, { firstInstance: true, messageMode, ...instanceOptions(options) });
    return new NamedPipeServer(path, first, messageMode, onInstance, options, forLibuv);
  }

  /**
   * The DACL of the live pipe, read back from the waiting instance as SDDL (`D:…`). Throws
   * `ClosedError` while no instance is waiting (all `maxInstances` connected).
   *
   * @example
   * ```ts
   * server.readDacl(); // 'D:P(A;;FA;;;SY)(A;;FA;;;S-1-5-21-…)'
   * ```
   */
  readDacl(): string {
    return readDacl(this.#waiting, 'file');
  }

  /** Stop accepting (the waiting instance is closed); accepted connections stay open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    if (!this.#forLibuv) {
      if (!this.#waiting.closed) this.#waiting.close();
      return;
    }
    // The event wait owns an OVERLAPPED until the cancelled connect completes: cancel, and let
    // #accept close the instance once it has settled.
    this.#cancelWait?.();
    await this.#settledWait;
  }

  #nextInstance(): void {
    if (this.#closed) return;
    try {
      this.#waiting = createNamedPipe(this.path, {
        firstInstance: false,
        messageMode: this.#messageMode,
        ...instanceOptions(this.#options),
      });
      this.#accept(this.#waiting);
    } catch (err) {
      if (err instanceof Win32Error && err.errno === ERROR_PIPE_BUSY) {
        // maxInstances reached: try again shortly (a client will have left); meanwhile new
        // clients see ERROR_PIPE_BUSY and retry on their side.
        this.#retry = setTimeout(() => this.#nextInstance(), ACCEPT_RETRY_MS);
        return;
      }
      // Out of handles or memory: keep serving who is connected, and say why nobody new can.
      process.emitWarning(`busway: ${this.path} stopped accepting: ${(err as Error).message}`, {
        code: 'BUSWAY_PIPE_ACCEPT',
      });
      this.#closed = true;
    }
  }

  #accept(instance: Win32Handle): void {
    let connected: Promise<void>;
    if (!this.#forLibuv) {
      connected = sharedCompletionPort().connect(instance);
    } else {
      const wait = waitForPipeClient(instance, sharedHandleWaiter());
      this.#cancelWait = wait.cancel;
      connected = wait.connected;
      this.#settledWait = connected.then(
        () => undefined,
        () => undefined,
      );
    }
    connected.then(
      () => {
        if (this.#closed) {
          instance.close();
          return;
        }
        // The next instance first, so the name never lacks a listener for long.
        this.#nextInstance();
        let pid: number | undefined;
        try {
          pid = getNamedPipeClientProcessId(instance);
        } catch {
          pid = undefined; // the client may already have gone; its read will report that
        }
        this.#onInstance(instance, pid === undefined ? undefined : { pid });
      },
      (err: unknown) => {
        // Cancelled by close(), or the instance failed: either way this instance is done.
        if (!instance.closed) instance.close();
        if (this.#closed) return;
        // The name must not be left without a listener: a client that connected and hung up
        // before ConnectNamedPipe was issued (ERROR_NO_DATA) would otherwise stop the server for
        // good. Anything else is said once per failure, and retried after a pause rather than in
        // a loop that spins on a lasting fault.
        if (err instanceof Win32Error && err.errno === ERROR_NO_DATA) {
          this.#nextInstance();
          return;
        }
        process.emitWarning(`busway: ${this.path}: waiting for a client failed: ${(err as Error).message}`, {
          code: 'BUSWAY_PIPE_ACCEPT',
        });
        this.#retry = setTimeout(() => this.#nextInstance(), ACCEPT_RETRY_MS);
      },
    );
  }
}

/**
 * Fail as `FILE_FLAG_FIRST_PIPE_INSTANCE` does (`ERROR_ACCESS_DENIED`) when the name already
 * exists. Windows enforces the flag itself; Wine 8 ignores it (a second `CreateNamedPipeW` on a
 * taken name succeeds there), so the name is also checked with `WaitNamedPipeW`, which fails with
 * `ERROR_FILE_NOT_FOUND` only when no instance exists. A 1 ms wait: it must not block the loop.
 */
function refuseExistingName(path: string): void {
  try {
    waitNamedPipe(path, 1);
  } catch (err) {
    if (err instanceof Win32Error && (err.errno === ERROR_FILE_NOT_FOUND || err.errno === ERROR_BAD_PATHNAME)) return;
    throw err;
  }
  throw new Win32Error(
    'CreateNamedPipeW',
    ERROR_ACCESS_DENIED,
    `${path}: the name is already taken (FILE_FLAG_FIRST_PIPE_INSTANCE)`,
  );
}

function instanceOptions(options: Readonly<Partial<NamedPipeServerOptions>>): {
  sddl?: string;
  maxInstances?: number;
  bufferSize?: number;
  rejectRemoteClients: boolean;
} {
  return {
    // Passed on every instance, first and later ones alike: a pipe whose later instances differed
    // would let remote clients in depending on which instance happened to be waiting.
    rejectRemoteClients: options.acceptRemoteClients !== true,
    ...(options.sddl === undefined ? {} : { sddl: options.sddl }),
    ...(options.maxInstances === undefined ? {} : { maxInstances: options.maxInstances }),
  };
}
