/**
 * The client side of a message-mode named pipe.
 *
 * @module
 */
import { openNamedPipe, pipePath, Win32Error, type Win32Handle } from '@busway/win32';
import { ConnectTimeoutError } from '../errors.js';
import { NamedPipeConnection, type NamedPipeConnectionOptions } from './NamedPipeConnection.js';
import { sharedCompletionPort } from './sharedCompletionPort.js';

/** Options of {@link NamedPipeClient.connect}. */
export interface NamedPipeClientOptions extends NamedPipeConnectionOptions {
  /**
   * How long to keep retrying while every instance is busy (`ERROR_PIPE_BUSY`), in milliseconds.
   * Default: 5000.
   */
  readonly connectTimeout: number;
  /**
   * Also retry while the pipe does not exist (`ERROR_FILE_NOT_FOUND`), within `connectTimeout`:
   * for a server that is starting, or that has every instance taken and is between closing one
   * and creating the next. Default: false (no such pipe fails at once).
   */
  readonly waitForServer: boolean;
}

const ERROR_PIPE_BUSY = 231;
const ERROR_FILE_NOT_FOUND = 2;

/**
 * Opens message-mode named pipes as a client.
 *
 * The pipe is opened with `CreateFileW` and `SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION`, so
 * the server may learn who the client is but can never impersonate it, then switched to message
 * read mode (`SetNamedPipeHandleState`). While every instance is busy it retries with short
 * timer-driven pauses rather than `WaitNamedPipeW`, which would block the event loop.
 *
 * @example
 * ```ts
 * const connection = await NamedPipeClient.connect('legacy-app');
 * connection.start({ onFrame: (m) => console.log(Buffer.from(m).toString()), onClose: () => {} });
 * connection.send(Buffer.from('ping'));
 * ```
 */
export class NamedPipeClient {
  private constructor() {}

  /**
   * Connect to `name` (a short name or a full `\\.\pipe\…` / `\\server\pipe\…` path). Rejects
   * with `Win32Error` `ERROR_FILE_NOT_FOUND` when no such pipe exists, and
   * {@link ConnectTimeoutError} when it stays busy for `connectTimeout`.
   */
  static async connect(
    name: string,
    options: Readonly<Partial<NamedPipeClientOptions>> = {},
  ): Promise<NamedPipeConnection> {
    return new NamedPipeConnection(await NamedPipeClient.open(name, true, options), sharedCompletionPort(), options);
  }

  /**
   * Open the pipe and return the handle (overlapped; message or byte read mode), for links that do
   * their own I/O. Same retries and errors as {@link NamedPipeClient.connect}.
   *
   * @example
   * ```ts
   * const handle = await NamedPipeClient.open('\\\\.\\pipe\\busway\\orders', false);
   * ```
   */
  static async open(
    name: string,
    messageMode: boolean,
    options: Readonly<Partial<Pick<NamedPipeClientOptions, 'connectTimeout' | 'waitForServer'>>> = {},
  ): Promise<Win32Handle> {
    const path = pipePath(name);
    const timeout = options.connectTimeout ?? 5000;
    const deadline = Date.now() + timeout;
    let pause = 2;
    for (;;) {
      try {
        return openNamedPipe(path, { messageMode, overlapped: true });
      } catch (err) {
        const retry =
          err instanceof Win32Error &&
          (err.errno === ERROR_PIPE_BUSY || (err.errno === ERROR_FILE_NOT_FOUND && options.waitForServer === true));
        if (!retry) throw err;
        if (Date.now() >= deadline) throw new ConnectTimeoutError(path, timeout, { cause: err });
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, 50);
      }
    }
  }
}
