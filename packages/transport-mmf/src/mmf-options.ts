/**
 * Options of the `mmf://` transport and how they are read from the URL.
 *
 * @module
 */
import { ConfigurationError } from '@busway/core';
import { isValidCapacity } from './ring-layout.js';
import type { RingScope } from './ring-mapping.js';

/**
 * Options of the shared-memory transport, from `transportOptions` or the URL's query
 * (`mmf://orders?size=16MiB&scope=global`); the URL wins.
 */
export type MmfTransportOptions = Readonly<
  Partial<{
    /**
     * Bytes of the ring's data area: a power of two from 4 KiB to 1 GiB, as a number or with a
     * unit (`64KiB`, `16MiB`, `1GiB`). Every member of a bus must use the same size. Default: 16 MiB.
     */
    size: number | string;
    /** `local` (per user, the default) or `global`. */
    scope: RingScope;
    /**
     * Milliseconds an unfinished record may hold up readers before it is declared abandoned (its
     * writer died mid-write). Default: 500.
     */
    abandonAfterMs: number;
    /** Milliseconds a sleeping reader waits before re-checking on its own. Default: 1000. */
    idleCheckMs: number;
    /**
     * Milliseconds a reader keeps polling (without system calls, yielding the CPU between polls)
     * after the last record it read or the last frame this member sent, before it sleeps in the
     * kernel. Waking a sleeping reader costs a system call and a worker-thread hop (tens of µs);
     * a stream or a request/reply exchange that keeps within this window never sleeps. Costs up to
     * this much CPU after each burst of traffic; an idle member costs nothing. `0`: sleep at once.
     * Default: 0.1.
     */
    spinMs: number;
    /** Milliseconds to wait for a concurrent creator to initialise the ring. Default: 2000. */
    initTimeoutMs: number;
    /**
     * What this member's `send` does when the ring is full up to the slowest reader: `lose`
     * overwrites the oldest records (readers that had not read them count them as lost), `wait`
     * waits up to `waitTimeoutMs` for that reader and then rejects with `BufferFullError`.
     * Default: `lose`.
     *
     * Fragments of a message larger than a record (a quarter of the ring) always wait, even with
     * `lose`: core sends them back to back, so a message larger than the ring would otherwise lap
     * every reader and never arrive. The publish then resolves once the last fragment is in the
     * ring, or rejects with `BufferFullError` when a reader made no room within `waitTimeoutMs`
     * (readers that already received fragments drop the incomplete message). Until every reader has
     * read past the last fragment, this member's other frames wait the same way, so that they do
     * not overwrite the message's tail. Waited for: every member's reader (up to 60 per ring), the
     * sender's own included; readers of dead processes are dropped every 50 ms.
     *
     * @example
     * ```ts
     * await createBus('mmf://orders?size=64KiB&overflow=wait&waitTimeoutMs=5000');
     * ```
     */
    overflow: 'lose' | 'wait';
    /**
     * The longest a send waits for room, in milliseconds: every send with `overflow: 'wait'`, and
     * fragments of large messages (and frames right behind them) with either setting. Default: 1000.
     */
    waitTimeoutMs: number;
  }>
>;

/** Options with defaults applied and values checked. */
export interface ResolvedMmfOptions {
  readonly name: string;
  readonly capacity: number;
  readonly scope: RingScope;
  readonly abandonAfterMs: number;
  readonly idleCheckMs: number;
  readonly spinMs: number;
  readonly initTimeoutMs: number;
  readonly overflow: 'lose' | 'wait';
  readonly waitTimeoutMs: number;
}

/**
 * Default `spinMs`: long enough to span a bus round trip's turnaround and the gap between a
 * publisher's bursts, short enough that a member costs at most 0.1 ms of CPU per burst.
 */
const DEFAULT_SPIN_MS = 0.1;

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1 << 20,
  mb: 1 << 20,
  mib: 1 << 20,
  g: 1 << 30,
  gb: 1 << 30,
  gib: 1 << 30,
};

/**
 * Parse a size such as `65536`, `64KiB` or `16MiB`.
 *
 * @example
 * ```ts
 * parseSize('16MiB'); // 16777216
 * ```
 */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const match = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = UNITS[(match?.[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined)
    throw new ConfigurationError(`mmf:// size "${value}" is not a number of bytes, KiB, MiB or GiB`);
  return Number(match[1]) * unit;
}

/**
 * Read and check the options of `mmf://name?…`.
 *
 * @example
 * ```ts
 * resolveMmfOptions(new URL('mmf://orders?size=1MiB'), {}).capacity; // 1048576
 * ```
 */
export function resolveMmfOptions(url: URL, options: Readonly<Record<string, unknown>>): ResolvedMmfOptions {
  const merged = { ...options, ...Object.fromEntries(url.searchParams) } as Record<string, unknown>;
  const name = decodeURIComponent(url.host + url.pathname);
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(name)) {
    throw new ConfigurationError(
      `mmf:// needs a name of 1 to 200 letters, digits, ".", "_" or "-", for example mmf://orders (got "${name}")`,
    );
  }
  const capacity = parseSize((merged.size as number | string | undefined) ?? 16 * 1024 * 1024);
  if (!isValidCapacity(capacity))
    throw new ConfigurationError(`mmf:// size ${capacity} must be a power of two from 4 KiB to 1 GiB`);
  const scope = (merged.scope ?? 'local') as string;
  if (scope !== 'local' && scope !== 'global')
    throw new ConfigurationError(`mmf:// scope must be "local" or "global", not "${scope}"`);
  const overflow = (merged.overflow ?? 'lose') as string;
  if (overflow !== 'lose' && overflow !== 'wait')
    throw new ConfigurationError(`mmf:// overflow must be "lose" or "wait", not "${overflow}"`);
  return {
    name,
    capacity,
    overflow,
    waitTimeoutMs: positive(merged.waitTimeoutMs, 'waitTimeoutMs') ?? 1000,
    scope,
    abandonAfterMs: positive(merged.abandonAfterMs, 'abandonAfterMs') ?? 500,
    idleCheckMs: positive(merged.idleCheckMs, 'idleCheckMs') ?? 1000,
    initTimeoutMs: positive(merged.initTimeoutMs, 'initTimeoutMs') ?? 2000,
    spinMs:
      merged.spinMs === undefined
        ? DEFAULT_SPIN_MS
        : Number(merged.spinMs) === 0
          ? 0
          : (positive(merged.spinMs, 'spinMs') ?? 0),
  };
}

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigurationError(`mmf:// option ${name} must be a positive number`);
  return n;
}
