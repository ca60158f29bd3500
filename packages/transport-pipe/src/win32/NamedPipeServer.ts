/**
 * The server side of a message-mode named pipe, accepting any number of clients.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  createMutex,
  createNamedPipe,
  getNamedPipeClientProcessId,
  sharedHandleWaiter,
  pipePath,
  readDacl,
  releaseMutex,
  tryAcquireMutex,
  waitForPipeClient,
  waitNamedPipe,
  Win32Error,
  type Win32Handle,
} from '@busway/win32';
import { ClosedError, type PeerIdentity } from '@busway/core';
import { NamedPipeConnection, type NamedPipeConnectionOptions } from './NamedPipeConnection.js';
import { sharedCompletionPort } from './sharedCompletionPort.js';

const ERROR_PIPE_BUSY = 231;
const ERROR_ACCESS_DENIED = 5;
const ERROR_FILE_NOT_FOUND = 2;
const ERROR_BAD_PATHNAME = 161;
const ERROR_NO_DATA = 232;
/** The local pipe namespace: only names in it can be created, so only they are claimed. */
const LOCAL_PIPE_PREFIX = '\\\\.\\pipe\\';
/**
 * Claim mutexes this process holds, by mutex name. A Win32 mutex is recursive for its owning
 * thread, and every server of this process claims on the main thread, so a second claim here would
 * succeed at the OS level: this set is what refuses it.
 */
const claimedHere = new Set<string>();
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
  /** The instance waiting for a client; undefined from when it is handed out until the next exists. */
  #waiting: Win32Handle | undefined;
  /** Set by `close()`. */
  #closed = false;
  /**
   * No new instance could be made (out of handles or memory): nobody new is accepted, but unlike
   * `#closed` the claim is kept until `close()`, which must still release it.
   */
  #stopped = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  readonly #claim: PipeNameClaim | undefined;

  private constructor(
    path: string,
    first: Win32Handle,
    messageMode: boolean,
    onInstance: (instance: Win32Handle, peer: PeerIdentity | undefined) => void,
    options: Readonly<Partial<NamedPipeServerOptions>>,
    forLibuv: boolean,
    claim: PipeNameClaim | undefined,
  ) {
    this.path = path;
    this.#claim = claim;
    this.#waiting = first;
    this.#messageMode = messageMode;
    this.#forLibuv = forLibuv;
    this.#onInstance = onInstance;
    this.#options = options;
    // May throw (the wait could not be set up); #accept has closed `first` then, and listenHandles
    // gives the claim back.
    this.#accept(first);
  }

  /**
   * Create the pipe (its first instance) and start accepting. Throws `Win32Error`
   * (`ERROR_ACCESS_DENIED`) when the name is already owned by another server, squatter or not,
   * including {@link PipeNameClaimedError} when another server holds the name's claim: a named
   * mutex, held until `close()`, that makes creating a free name atomic across processes.
   * `name` is a short name or a full `\\.\pipe\…` path.
   *
   * If `onConnection` throws, that connection is closed and a process warning with code
   * `BUSWAY_PIPE_HANDLER` says why; the server keeps accepting.
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
      (instance, peer) => {
        const connection = new NamedPipeConnection(instance, port, options, peer);
        try {
          onConnection(connection);
        } catch (err) {
          // The connection owns the handle and may have started I/O on it: it closes it.
          connection.close(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      },
      options,
    );
  }

  /**
   * The same server, handing out each connected instance's handle (message or byte mode) rather
   * than a `NamedPipeConnection`: for links that do their own I/O, like the hub's byte stream.
   *
   * If `onInstance` throws, the instance is closed (unless the handler already gave it away with
   * `release()`) and a process warning with code `BUSWAY_PIPE_HANDLER` is emitted; the server keeps
   * accepting.
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
    // Claimed first, so that of several processes racing for a free name exactly one goes on to
    // create it: the name check and FILE_FLAG_FIRST_PIPE_INSTANCE below cannot decide that under
    // Wine (see refuseExistingName).
    const claim = PipeNameClaim.take(path, options.sddl);
    try {
      refuseExistingName(path);
      const first = createNamedPipe(path, { firstInstance: true, messageMode, ...instanceOptions(options) });
      return new NamedPipeServer(path, first, messageMode, onInstance, options, forLibuv, claim);
    } catch (err) {
      // Nothing serves the name then: it must not stay claimed by this process until it exits.
      claim?.release();
      throw err;
    }
  }

  /**
   * Whether another process holds the claim on `name` while no pipe of that name exists: a
   * process that squats the name without serving it (or a hub that is hung between the two).
   * Takes and gives back the claim to find out, on the calling (main) thread.
   *
   * @example
   * ```ts
   * if (NamedPipeServer.claimedElsewhere('\\\\.\\pipe\\busway\\orders')) console.warn('held, not served');
   * ```
   */
  static claimedElsewhere(name: string): boolean {
    const path = pipePath(name);
    try {
      PipeNameClaim.take(path, undefined)?.release();
      return false;
    } catch (err) {
      return err instanceof PipeNameClaimedError && !err.here;
    }
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
    if (this.#waiting === undefined) throw new ClosedError(`${this.path}: no instance is waiting (all are connected)`);
    return readDacl(this.#waiting, 'file');
  }

  /** Stop accepting (the waiting instance is closed); accepted connections stay open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    if (!this.#forLibuv) {
      // Only an instance still waiting: one handed out belongs to its connection now.
      if (this.#waiting !== undefined && !this.#waiting.closed) this.#waiting.close();
    } else {
      // The event wait owns an OVERLAPPED until the cancelled connect completes: cancel, and let
      // #accept close the instance once it has settled.
      this.#cancelWait?.();
      await this.#settledWait;
    }
    // Given up only once nothing waits for clients any more: the next claimant then finds the
    // name free of listening instances.
    this.#claim?.release();
  }

  #nextInstance(): void {
    if (this.#closed || this.#stopped) return;
    try {
      const instance = createNamedPipe(this.path, {
        firstInstance: false,
        messageMode: this.#messageMode,
        ...instanceOptions(this.#options),
      });
      this.#waiting = instance;
      try {
        this.#accept(instance);
      } catch (err) {
        // #accept closed it: no instance is left that a client could open and then hang on.
        this.#waiting = undefined;
        throw err;
      }
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
      // Not #closed: close() must still run, to give the claim back.
      this.#stopped = true;
    }
  }

  /**
   * Wait for a client on `instance`, then hand it out. Throws when the wait cannot even begin
   * (`waitForPipeClient` creates an event, which can fail), having closed `instance`.
   */
  #accept(instance: Win32Handle): void {
    let connected: Promise<void>;
    try {
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
    } catch (err) {
      instance.close();
      throw err;
    }
    connected.then(
      () => {
        if (this.#closed) {
          instance.close();
          return;
        }
        // Handed out from here on: close() must not close it, even when no next instance can be
        // made yet (maxInstances reached).
        if (this.#waiting === instance) {
          this.#waiting = undefined;
          this.#cancelWait = undefined;
        }
        // The next instance first, so the name never lacks a listener for long.
        this.#nextInstance();
        let pid: number | undefined;
        try {
          pid = getNamedPipeClientProcessId(instance);
        } catch {
          pid = undefined; // the client may already have gone; its read will report that
        }
        try {
          this.#onInstance(instance, pid === undefined ? undefined : { pid });
        } catch (err) {
          // User code: thrown here it would become an unhandled rejection, which ends the process.
          // Only this client is dropped (unless the handler gave its handle away already).
          if (!instance.closed) instance.close();
          process.emitWarning(
            `busway: ${this.path}: the connection handler threw, that client was dropped: ${(err as Error).message}`,
            { code: 'BUSWAY_PIPE_HANDLER' },
          );
        }
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

/**
 * Another server holds the claim on a pipe name: the named mutex, owner-only, that elects the one
 * server (and so the one hub) of a name, because Wine does not enforce
 * `FILE_FLAG_FIRST_PIPE_INSTANCE`. Reported as
 * `FILE_FLAG_FIRST_PIPE_INSTANCE` reports a taken name, `ERROR_ACCESS_DENIED`, so callers treat
 * both alike; `here` tells whether the holder is this process.
 */
export class PipeNameClaimedError extends Win32Error {
  /** True when a server of this process holds the claim. */
  readonly here: boolean;

  constructor(path: string, mutexName: string, here: boolean) {
    super(
      'WaitForSingleObject',
      ERROR_ACCESS_DENIED,
      `${path}: the name is claimed by ${here ? 'this process' : 'another process'} (mutex ${mutexName})`,
    );
    this.name = 'PipeNameClaimedError';
    this.here = here;
  }
}

/**
 * The right to create a local pipe name, held as a named mutex (`Local\busway-pipe-…`, derived
 * from the pipe's path) for as long as the server lives. Creating the pipe cannot decide alone
 * which of several processes becomes its server: Wine ignores `FILE_FLAG_FIRST_PIPE_INSTANCE`,
 * and checking the name first (`refuseExistingName`) leaves a gap between check and create in
 * which every process racing for a freed name (the survivors of a dead hub) sees it free. Taking a
 * mutex is atomic on Windows and Wine alike. When the holder dies its mutex is abandoned, and the
 * next claimant takes it as free.
 *
 * A mutex belongs to the thread that acquired it, so it is taken here on the main thread with a
 * zero timeout, and released from the same thread. Never through koffi's `.async`: that would
 * acquire it on one of libuv's pool threads, which outlive the call, so the main thread could not
 * release it (`ERROR_NOT_OWNER`) and it would not be abandoned either until the process exited.
 *
 * The mutex carries the pipe's DACL (by default the current user and SYSTEM only), so nobody who
 * may not open the pipe may hold its name either.
 */
class PipeNameClaim {
  readonly #mutex: Win32Handle;
  readonly #name: string;

  private constructor(mutex: Win32Handle, name: string) {
    this.#mutex = mutex;
    this.#name = name;
  }

  /**
   * Claim `path`; undefined for a path outside the local namespace (nothing can create it here).
   * Throws {@link PipeNameClaimedError} when another server, of this process or another, holds it.
   */
  static take(path: string, sddl: string | undefined): PipeNameClaim | undefined {
    if (!path.toLowerCase().startsWith(LOCAL_PIPE_PREFIX)) return undefined;
    const name = claimMutexName(path);
    if (claimedHere.has(name)) throw new PipeNameClaimedError(path, name, true);
    let mutex: Win32Handle;
    try {
      mutex = createMutex(name, sddl === undefined ? {} : { sddl });
    } catch (err) {
      // A mutex of that name whose DACL shuts this user out: someone else's, holding the name.
      if (err instanceof Win32Error && err.errno === ERROR_ACCESS_DENIED)
        throw new PipeNameClaimedError(path, name, false);
      throw err;
    }
    let state: 'acquired' | 'abandoned' | 'busy';
    try {
      state = tryAcquireMutex(mutex);
    } catch (err) {
      mutex.close();
      throw err;
    }
    if (state === 'busy') {
      mutex.close();
      throw new PipeNameClaimedError(path, name, false);
    }
    // 'abandoned': the previous server died holding it, which is how a hub's death looks here.
    claimedHere.add(name);
    return new PipeNameClaim(mutex, name);
  }

  /** Give the name up. Idempotent. */
  release(): void {
    if (this.#mutex.closed) return;
    claimedHere.delete(this.#name);
    try {
      releaseMutex(this.#mutex);
    } finally {
      this.#mutex.close();
    }
  }
}

/**
 * The claim mutex's name for a pipe path. Pipe names are case-insensitive and mutex names are not,
 * hence the lower case; a backslash may not appear in a mutex name past its namespace; a long name
 * is hashed to stay within the limit of a kernel object name.
 */
function claimMutexName(path: string): string {
  const pipeName = path.slice(LOCAL_PIPE_PREFIX.length).toLowerCase().replaceAll('\\', '/');
  const readable = `busway-pipe-${pipeName}`;
  if (readable.length <= 200) return readable;
  return `busway-pipe-sha256-${createHash('sha256').update(pipeName).digest('hex')}`;
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
