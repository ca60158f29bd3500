/**
 * What the transport needs from a platform backend: the ring's memory, a way to sleep until a
 * writer rings, and a way to ring. One implementation per OS (futex on Linux, a named semaphore
 * on Win32).
 *
 * @module
 */

/** `Local` (per user / session, the default) or `Global` (machine-wide) name space. */
export type RingScope = 'local' | 'global';

/**
 * One process's link to a named ring mapping, shared by every transport of that name in the
 * process.
 *
 * @example
 * ```ts
 * const mapping = await openRingMapping({ name: 'orders', capacity: 1 << 24, scope: 'local' });
 * const ring = SharedRing.attach(mapping.buffer, 'orders');
 * ```
 */
export interface RingMapping {
  /** The mapped ring: header and data area. */
  readonly buffer: ArrayBuffer;
  /**
   * Announce a sleep on the ring, call `hasWork` (the caller's check for records), and unless it
   * finds some, sleep until a writer rings or `timeoutMs` passes; the announcement is withdrawn
   * however the sleep ends (see `sleep-protocol.ts`). Undefined when `hasWork` found records (no
   * sleep). Transports of the process share one wait in flight, and so one announcement. Never
   * blocks the event loop; spurious returns are allowed.
   */
  sleep(hasWork: () => boolean, timeoutMs: number): Promise<void> | undefined;
  /** Wake the readers of this ring whose announcements a writer took (`sleepers` of them), in every process. */
  wake(sleepers: number): void;
  /**
   * Give the CPU to another runnable thread, if any (`sched_yield`), between polls of a spinning
   * reader: on a machine with fewer free cores than spinning members, the member that must answer
   * otherwise waits for the spinner's time slice to end. Optional: without it the reader spins
   * without yielding.
   */
  yieldCpu?(): void;
  /** Drop this user's reference; the last one unmaps (and, when nobody maps it any more, removes the name). */
  release(): Promise<void>;
}

/** What a backend needs to open a ring. */
export interface RingMappingRequest {
  /** The bus name from the URL, validated. */
  readonly name: string;
  /** Data-area bytes, a power of two. */
  readonly capacity: number;
  readonly scope: RingScope;
  /** Milliseconds to wait for a concurrent creator to finish initialising the ring. */
  readonly initTimeoutMs: number;
}
