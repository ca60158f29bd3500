/**
 * The process's shared {@link HandleWaiter}s, for waits that may last as long as a server runs
 * (a pipe instance waiting for its client).
 *
 * Why shared: koffi runs each async call on libuv's thread pool, four threads unless
 * `UV_THREADPOOL_SIZE` says otherwise, and a waiter blocks one of them while it waits. A waiter per
 * server would let four servers take the whole pool, and `fs`, `dns.lookup`, `crypto` and every
 * other async call would queue behind them. Shared, they cost one thread per
 * `HandleWaiter.capacity` (63) waits in the whole process. An idle waiter holds no thread.
 *
 * @module
 */
import { HandleWaiter } from './handle-waiter.js';

const waiters: HandleWaiter[] = [];

/**
 * A shared waiter with room for one more wait: the first that has room, or a new one when all
 * are full. Never close it; it is kept for the life of the process, as its wake event is.
 *
 * @example
 * ```ts
 * const result = await sharedHandleWaiter().wait(clientConnected);
 * ```
 */
export function sharedHandleWaiter(): HandleWaiter {
  for (const waiter of waiters) if (waiter.stats.pending < HandleWaiter.capacity) return waiter;
  const waiter = new HandleWaiter();
  waiters.push(waiter);
  return waiter;
}
