/**
 * The completion port this package's pipes use: the process-wide one from `@busway/win32`, which
 * mailslots share too, so all overlapped I/O of a process costs one waiting worker thread.
 *
 * @module
 */
import { acquireCompletionPort, type CompletionPort } from '@busway/win32';

let port: CompletionPort | undefined;

/**
 * The shared completion port, taken on first use and held for the process's lifetime: pipe
 * connections come and go with a hub's members, and releasing it with the last one would only
 * make the next connection create a new port. An idle port has no wait in flight, so it holds no
 * thread and does not keep the process alive.
 *
 * @example
 * ```ts
 * const { bytes } = await sharedCompletionPort().read(handle, 65_536);
 * ```
 */
export function sharedCompletionPort(): CompletionPort {
  port ??= acquireCompletionPort();
  return port;
}
