import { BuswayError, type BuswayErrorOptions } from '@busway/core';
import { win32ErrorSymbol } from './error-symbols.js';

/**
 * Produces the system message of an error code. Installed by `kernel32.ts` once kernel32 is
 * loaded, so constructing a `Win32Error` never loads native code by itself (tests on Linux build
 * them freely).
 */
let formatSystemMessage: ((errno: number) => string | undefined) | undefined;

/**
 * @internal Called by the bindings once `FormatMessageW` is available.
 *
 * @example
 * ```ts
 * setSystemMessageFormatter((errno) => `error ${errno}`);
 * ```
 */
export function setSystemMessageFormatter(formatter: (errno: number) => string | undefined): void {
  formatSystemMessage = formatter;
}

/**
 * A Win32 call failed. `errno` is the `GetLastError` value (or the returned error code for the
 * few APIs that return one, like `GetSecurityInfo`), `symbol` its name (`ERROR_FILE_NOT_FOUND`),
 * `syscall` the function that failed and `systemMessage` the text from `FormatMessageW`.
 *
 * @example
 * ```ts
 * try {
 *   openNamedPipe('nobody-here');
 * } catch (err) {
 *   if (err instanceof Win32Error && err.symbol === 'ERROR_FILE_NOT_FOUND') startServer();
 * }
 * ```
 */
export class Win32Error extends BuswayError {
  /** The numeric Win32 error code (`GetLastError`). */
  readonly errno: number;
  /** Its symbolic name, for example `ERROR_PIPE_BUSY`; `WIN32_ERROR_<n>` when unknown. */
  readonly symbol: string;
  /** The Win32 function that failed, for example `CreateNamedPipeW`. */
  readonly syscall: string;
  /** The system's description of the error, when it could be obtained. */
  readonly systemMessage: string | undefined;

  constructor(syscall: string, errno: number, detail?: string, options?: BuswayErrorOptions) {
    const symbol = win32ErrorSymbol(errno);
    const systemMessage = formatSystemMessage?.(errno);
    const where = detail === undefined ? syscall : `${syscall} (${detail})`;
    super('WIN32', `${where} failed: ${symbol} (${errno})${systemMessage ? `: ${systemMessage}` : ''}`, options);
    this.name = 'Win32Error';
    this.errno = errno;
    this.symbol = symbol;
    this.syscall = syscall;
    this.systemMessage = systemMessage;
  }
}
