import { BuswayError, type BuswayErrorOptions } from '@busway/core';

/**
 * A Win32-only function was called on another platform. Raised before anything native is loaded,
 * so catching it is always safe.
 *
 * @example
 * ```ts
 * try {
 *   createNamedPipe('orders');
 * } catch (err) {
 *   if (err instanceof PlatformError) useUnixSocketInstead();
 * }
 * ```
 */
export class PlatformError extends BuswayError {
  /** The platform the call was made on (`process.platform`). */
  readonly platform: string;

  constructor(what: string, options?: BuswayErrorOptions) {
    super('PLATFORM', `${what} is only available on Windows (this is ${process.platform})`, options);
    this.name = 'PlatformError';
    this.platform = process.platform;
  }
}

/**
 * Throw {@link PlatformError} unless running on Windows. Called at the top of every Win32-only
 * function, before koffi or kernel32 are touched.
 *
 * @example
 * ```ts
 * assertWindows('createMailslot');
 * ```
 */
export function assertWindows(what: string): void {
  if (process.platform !== 'win32') throw new PlatformError(what);
}
