/**
 * Full Win32 names of the objects busway creates, built in one place so every transport names
 * things the same way (and so a plain Win32 program can find them).
 *
 * @module
 */
import { checkWideName } from './wide-string.js';

/** Largest pipe name Win32 accepts, including the `\\.\pipe\` prefix. */
const MAX_PIPE_NAME = 256;

/**
 * `\\.\pipe\<name>`; a name already starting with `\\` is taken as a full path.
 *
 * @example
 * ```ts
 * pipePath('orders'); // '\\\\.\\pipe\\orders'
 * ```
 */
export function pipePath(name: string): string {
  return checkWideName(name.startsWith('\\\\') ? name : `\\\\.\\pipe\\${name}`, MAX_PIPE_NAME);
}

/**
 * `\\.\mailslot\<name>`; a name already starting with `\\` is taken as a full path (for example
 * `\\*\mailslot\x` to broadcast to the domain).
 *
 * @example
 * ```ts
 * mailslotPath('orders'); // '\\\\.\\mailslot\\orders'
 * ```
 */
export function mailslotPath(name: string): string {
  return checkWideName(name.startsWith('\\\\') ? name : `\\\\.\\mailslot\\${name}`);
}

/**
 * A kernel object name (event, semaphore, file mapping) in the session namespace: `Local\<name>`
 * unless the name already has a `Local\` or `Global\` prefix. `Local\` by default because
 * creating `Global\` objects needs a privilege and the bus is per session.
 *
 * @example
 * ```ts
 * kernelObjectName('orders-ring'); // 'Local\\orders-ring'
 * ```
 */
export function kernelObjectName(name: string): string {
  return checkWideName(/^(Local|Global)\\/.test(name) ? name : `Local\\${name}`);
}
