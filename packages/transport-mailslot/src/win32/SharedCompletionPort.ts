/**
 * One `CompletionPort` (from `@busway/win32`) for every mailslot of the process, created by the
 * first slot and closed with the last, so that idle processes can exit and all reads of the
 * process cost one waiting worker thread in total.
 *
 * @module
 */
import { CompletionPort } from '@busway/win32';

let port: CompletionPort | undefined;
let users = 0;

/**
 * Take a reference to the shared port.
 *
 * @example
 * ```ts
 * const port = acquireCompletionPort();
 * try { await port.read(slot, 424); } finally { await releaseCompletionPort(); }
 * ```
 */
export function acquireCompletionPort(): CompletionPort {
  port ??= new CompletionPort();
  users += 1;
  return port;
}

/**
 * Drop a reference; the last one closes the port.
 *
 * @example
 * ```ts
 * await releaseCompletionPort();
 * ```
 */
export async function releaseCompletionPort(): Promise<void> {
  users -= 1;
  if (users > 0 || port === undefined) return;
  const closing = port;
  port = undefined;
  await closing.close();
}
