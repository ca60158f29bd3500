/**
 * The one I/O completion port this package's pipes share.
 *
 * @module
 */
import { CompletionPort } from '@busway/win32';

let port: CompletionPort | undefined;

/**
 * The process-wide completion port for pipe I/O, created on first use. One port (and so at most
 * one blocked worker thread) serves every pipe of every bus in the process, however many clients
 * a hub has. It is never closed: its pump only waits while operations are pending, so an idle
 * port holds no thread and does not keep the process alive.
 *
 * @example
 * ```ts
 * const { bytes } = await sharedCompletionPort().read(handle, 65_536);
 * ```
 */
export function sharedCompletionPort(): CompletionPort {
  port ??= new CompletionPort();
  return port;
}
