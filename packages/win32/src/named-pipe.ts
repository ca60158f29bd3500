/**
 * Named pipes: the server side (`CreateNamedPipeW` and friends) and the client side
 * (`CreateFileW` on `\\.\pipe\name`). Asynchronous connect/read/write go through a
 * {@link CompletionPort}; the functions here are the synchronous parts.
 *
 * @module
 */
import { FileAccess, INVALID_HANDLE_VALUE, PipeMode } from './constants.js';
import { Win32Handle } from './handle.js';
import { kernel32 } from './kernel32.js';
import { checkBool, checkHandle } from './last-error.js';
import { pipePath } from './object-names.js';
import { assertWindows } from './platform-error.js';
import { withSecurityAttributes } from './security-attributes.js';
import { Win32Error } from './win32-error.js';

/**
 * Options of {@link createNamedPipe}; every field documents its default.
 *
 * @example
 * ```ts
 * createNamedPipe('orders', { firstInstance: false } satisfies NamedPipeOptions);
 * ```
 */
export interface NamedPipeOptions {
  /** `PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE` when true (default), byte mode when false. */
  readonly messageMode?: boolean;
  /** Open for overlapped I/O through a completion port. Default true. */
  readonly overlapped?: boolean;
  /**
   * Add `FILE_FLAG_FIRST_PIPE_INSTANCE`: fail with `ERROR_ACCESS_DENIED` if the name is taken, so
   * nobody can squat it. Default true; set false for the second and later instances.
   */
  readonly firstInstance?: boolean;
  /** Maximum number of instances, 1–255 (255 = unlimited). Default 255. */
  readonly maxInstances?: number;
  /** Output and input buffer size hints, in bytes. Default 64 KiB each. */
  readonly bufferSize?: number;
  /** Default timeout for `WaitNamedPipeW(NMPWAIT_USE_DEFAULT_WAIT)`, in ms. Default 0 (50 ms). */
  readonly defaultTimeout?: number;
  /** SDDL of the pipe's security descriptor. Default: current user and SYSTEM only. */
  readonly sddl?: string;
  /**
   * Add `PIPE_REJECT_REMOTE_CLIENTS`: a client on another machine (`\\server\pipe\name`, over
   * SMB) is refused. Default true; set false only to serve remote clients on purpose, and widen
   * `sddl` for them if they log on as another account.
   */
  readonly rejectRemoteClients?: boolean;
}

/**
 * The `dwOpenMode` and `dwPipeMode` arguments {@link createNamedPipe} passes to
 * `CreateNamedPipeW` for `options`.
 *
 * @example
 * ```ts
 * const { pipeMode } = namedPipeModes({ rejectRemoteClients: false });
 * (pipeMode & PipeMode.PIPE_REJECT_REMOTE_CLIENTS) === 0; // true: remote clients accepted
 * ```
 */
export function namedPipeModes(options: NamedPipeOptions = {}): { openMode: number; pipeMode: number } {
  // Computed apart from the call because neither Windows nor Wine reports the remote-client flag
  // of a live pipe (GetNamedPipeInfo gives only the end and the type): this is where it can be
  // checked. Wine 8 drops both flags in kernelbase's CreateNamedPipeW: it always creates with
  // FILE_OPEN_IF (Windows uses FILE_CREATE for FILE_FLAG_FIRST_PIPE_INSTANCE), and passes
  // NtCreateNamedPipeFile the pipe type only as message-or-byte, losing the remote-client bit;
  // Wine has no remote (SMB) named pipes anyway.
  const openMode =
    PipeMode.PIPE_ACCESS_DUPLEX |
    ((options.overlapped ?? true) ? PipeMode.FILE_FLAG_OVERLAPPED : 0) |
    ((options.firstInstance ?? true) ? PipeMode.FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  const pipeMode =
    ((options.messageMode ?? true)
      ? PipeMode.PIPE_TYPE_MESSAGE | PipeMode.PIPE_READMODE_MESSAGE
      : PipeMode.PIPE_TYPE_BYTE | PipeMode.PIPE_READMODE_BYTE) |
    PipeMode.PIPE_WAIT |
    // Without the flag: PIPE_ACCEPT_REMOTE_CLIENTS, which is 0.
    ((options.rejectRemoteClients ?? true) ? PipeMode.PIPE_REJECT_REMOTE_CLIENTS : 0);
  return { openMode, pipeMode };
}

/**
 * Create one instance of a named pipe, duplex, rejecting remote clients unless
 * `rejectRemoteClients: false`. The name may be short (`orders`) or a full `\\.\pipe\orders`.
 *
 * @example
 * ```ts
 * const server = createNamedPipe('orders');
 * await port.connect(server); // wait for a client
 * ```
 */
export function createNamedPipe(name: string, options: NamedPipeOptions = {}): Win32Handle {
  assertWindows('createNamedPipe');
  const path = pipePath(name);
  const { openMode, pipeMode } = namedPipeModes(options);
  const bufferSize = options.bufferSize ?? 65_536;
  const raw = withSecurityAttributes(options.sddl, (sa) =>
    kernel32().CreateNamedPipeW(
      path,
      openMode,
      pipeMode,
      options.maxInstances ?? PipeMode.PIPE_UNLIMITED_INSTANCES,
      bufferSize,
      bufferSize,
      options.defaultTimeout ?? 0,
      sa,
    ),
  );
  return new Win32Handle(checkHandle(raw, INVALID_HANDLE_VALUE, 'CreateNamedPipeW', path), 'named-pipe', path);
}

/**
 * Options of {@link openNamedPipe}; every field documents its default.
 *
 * @example
 * ```ts
 * openNamedPipe('orders', { overlapped: false } satisfies OpenNamedPipeOptions);
 * ```
 */
export interface OpenNamedPipeOptions {
  /** Switch the client handle to message read mode. Default true. */
  readonly messageMode?: boolean;
  /** Open for overlapped I/O through a completion port. Default true. */
  readonly overlapped?: boolean;
}

/**
 * The `dwDesiredAccess` and `dwFlagsAndAttributes` arguments {@link openNamedPipe} passes to
 * `CreateFileW` for `options`: read and write access, and always
 * `SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION`, so that the server may identify the client
 * but never impersonate it.
 *
 * @example
 * ```ts
 * const { flagsAndAttributes } = namedPipeOpenFlags({ overlapped: false });
 * (flagsAndAttributes & FileAccess.SECURITY_SQOS_PRESENT) !== 0; // true
 * ```
 */
export function namedPipeOpenFlags(options: OpenNamedPipeOptions = {}): {
  desiredAccess: number;
  flagsAndAttributes: number;
} {
  // Computed apart from the call because the impersonation level a handle was opened with cannot
  // be read back from it, and Wine does not enforce it: this is where it can be checked.
  return {
    desiredAccess: FileAccess.GENERIC_READ | FileAccess.GENERIC_WRITE,
    flagsAndAttributes:
      FileAccess.SECURITY_SQOS_PRESENT |
      FileAccess.SECURITY_IDENTIFICATION |
      ((options.overlapped ?? true) ? FileAccess.FILE_FLAG_OVERLAPPED : 0),
  };
}

/**
 * Open the client end of a named pipe. The server may identify the client but never impersonate
 * it (`SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION`). Throws `Win32Error` with
 * `ERROR_FILE_NOT_FOUND` when no such pipe exists and `ERROR_PIPE_BUSY` when every instance is
 * taken (then {@link waitNamedPipe} and retry).
 *
 * @example
 * ```ts
 * const client = openNamedPipe('orders');
 * ```
 */
export function openNamedPipe(name: string, options: OpenNamedPipeOptions = {}): Win32Handle {
  assertWindows('openNamedPipe');
  const path = pipePath(name);
  const { desiredAccess, flagsAndAttributes } = namedPipeOpenFlags(options);
  const raw = kernel32().CreateFileW(path, desiredAccess, 0, null, FileAccess.OPEN_EXISTING, flagsAndAttributes, 0);
  const handle = new Win32Handle(
    checkHandle(raw, INVALID_HANDLE_VALUE, 'CreateFileW', path),
    'named-pipe-client',
    path,
  );
  if (options.messageMode ?? true) {
    try {
      setPipeReadMode(handle, 'message');
    } catch (err) {
      handle.close();
      throw err;
    }
  }
  return handle;
}

/**
 * Set the read mode of a pipe handle (`SetNamedPipeHandleState`).
 *
 * @example
 * ```ts
 * setPipeReadMode(client, 'message');
 * ```
 */
export function setPipeReadMode(handle: Win32Handle, mode: 'message' | 'byte'): void {
  const value = Uint32Array.of(mode === 'message' ? PipeMode.PIPE_READMODE_MESSAGE : PipeMode.PIPE_READMODE_BYTE);
  checkBool(
    kernel32().SetNamedPipeHandleState(handle.value, value, null, null),
    'SetNamedPipeHandleState',
    handle.name,
  );
}

/**
 * Wait until an instance of the pipe is free to connect to, or `timeoutMs` elapses. Blocks the
 * calling thread, so pass a short timeout, or call it through `.async` in a loop. Returns false
 * on timeout; throws `Win32Error` (`ERROR_FILE_NOT_FOUND`) when no such pipe exists.
 *
 * @example
 * ```ts
 * if (waitNamedPipe('orders', 50)) client = openNamedPipe('orders');
 * ```
 */
export function waitNamedPipe(name: string, timeoutMs: number): boolean {
  assertWindows('waitNamedPipe');
  const path = pipePath(name);
  const k32 = kernel32();
  if (k32.WaitNamedPipeW(path, timeoutMs) !== 0) return true;
  const errno = k32.GetLastError();
  // ERROR_SEM_TIMEOUT is how WaitNamedPipeW reports a timeout.
  if (errno === 121) return false;
  throw new Win32Error('WaitNamedPipeW', errno, path);
}

/**
 * The process id of the client connected to a server pipe instance.
 *
 * @example
 * ```ts
 * const pid = getNamedPipeClientProcessId(server);
 * ```
 */
export function getNamedPipeClientProcessId(handle: Win32Handle): number {
  const pid: [number] = [0];
  checkBool(kernel32().GetNamedPipeClientProcessId(handle.value, pid), 'GetNamedPipeClientProcessId', handle.name);
  return pid[0];
}

/**
 * The process id of the server that created the pipe instance `handle` is connected to: on a
 * client handle, who is at the other end (on a server handle, this process). For a pipe on
 * another machine it is a process id there. Throws `Win32Error` when the system cannot say; ask
 * right after connecting. Wine 8 implements it: wineserver answers from the pids it stores in
 * each pipe end (`pipe_end_get_connection_attribute`), without checking that the pipe is still
 * connected, so there it keeps answering even after the server has disconnected.
 *
 * @example
 * ```ts
 * const client = openNamedPipe('orders');
 * console.log(`orders is served by process ${getNamedPipeServerProcessId(client)}`);
 * ```
 */
export function getNamedPipeServerProcessId(handle: Win32Handle): number {
  const pid: [number] = [0];
  checkBool(kernel32().GetNamedPipeServerProcessId(handle.value, pid), 'GetNamedPipeServerProcessId', handle.name);
  return pid[0];
}

/**
 * What {@link peekNamedPipe} reports.
 *
 * @example
 * ```ts
 * const { available }: PipePeek = peekNamedPipe(pipe);
 * ```
 */
export interface PipePeek {
  /** Bytes available to read in total. */
  readonly available: number;
  /** Bytes left in the current message (message mode), 0 in byte mode. */
  readonly leftThisMessage: number;
}

/**
 * Look at a pipe without reading from it: how many bytes are waiting. Throws `Win32Error`
 * (`ERROR_BROKEN_PIPE`) once the other end has gone.
 *
 * @example
 * ```ts
 * if (peekNamedPipe(server).available > 0) drain();
 * ```
 */
export function peekNamedPipe(handle: Win32Handle): PipePeek {
  const read: [number] = [0];
  const available: [number] = [0];
  const left: [number] = [0];
  checkBool(kernel32().PeekNamedPipe(handle.value, null, 0, read, available, left), 'PeekNamedPipe', handle.name);
  return { available: available[0], leftThisMessage: left[0] };
}

/**
 * Disconnect the client from a server pipe instance, so the instance can accept the next one.
 *
 * @example
 * ```ts
 * disconnectNamedPipe(server);
 * await port.connect(server);
 * ```
 */
export function disconnectNamedPipe(handle: Win32Handle): void {
  checkBool(kernel32().DisconnectNamedPipe(handle.value), 'DisconnectNamedPipe', handle.name);
}
