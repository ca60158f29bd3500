/**
 * One `CompletionPort` for every pipe, mailslot and other overlapped handle of the process, so
 * that all of the process's overlapped I/O costs one waiting worker thread in total. Created by
 * the first user and closed with the last, so a process that is done with it holds no handle.
 *
 * @module
 */
import { CompletionPort } from './completion-port.js';

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
