/**
 * Puts fragmented messages (see {@link fragmentEnvelope}) back together, within bounded memory
 * and time.
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { FrameFlags, type Envelope } from './envelope.js';
import { ConfigurationError } from './errors.js';

/** Options of a {@link Reassembler}. */
export type ReassemblerOptions = Readonly<
  Partial<{
    /** How long a message may stay incomplete, from its first fragment, in ms. Default: 30 000. */
    timeoutMs: number;
    /** Cap on the bytes held for all incomplete messages together. Default: 64 MiB. */
    maxPendingBytes: number;
    /** Largest reassembled message payload, in bytes. Default: 256 MiB. */
    maxMessageSize: number;
    /** Scheduler of the expiry timers; tests pass a `TestScheduler`. Default: rxjs `asyncScheduler`. */
    scheduler: SchedulerLike;
  }>
>;

/** Counters of a {@link Reassembler}. */
export interface ReassemblerStats {
  /** Messages given up because they stayed incomplete for `timeoutMs`. */
  readonly expired: number;
  /** Messages given up because they would have exceeded `maxPendingBytes` or `maxMessageSize`. */
  readonly dropped: number;
  /** Fragments ignored: repeats of a fragment already held, or inconsistent with their message. */
  readonly ignored: number;
  /** Messages currently incomplete. */
  readonly pending: number;
  /** Bytes currently held for incomplete messages (payloads plus per-fragment bookkeeping). */
  readonly pendingBytes: number;
}

/**
 * Bookkeeping charged per announced fragment slot, so that a message announcing billions of tiny
 * fragments counts against the cap before its slot array is allocated.
 */
const SLOT_COST = 8;

/**
 * Bookkeeping charged per incomplete message (its entry, key, timer), so that many messages of
 * empty fragments still meet the cap.
 */
export const MESSAGE_COST = 256;

/**
 * How many dropped messages are remembered (until their timeout) so that their later fragments
 * are ignored rather than starting a new message. Bounded, because a peer can make us drop
 * messages as fast as it can send first fragments; past it the oldest is forgotten, and its late
 * fragments at worst start a message that expires.
 */
const MAX_TOMBSTONES = 4096;

interface Pending {
  readonly key: string;
  readonly count: number;
  readonly parts: (Uint8Array | undefined)[];
  received: number;
  /** Payload bytes received so far. */
  size: number;
  /** Bytes charged to the pending total: `size` plus slot bookkeeping. */
  charged: number;
  /** Fragment 0, once it arrived: it alone carries the headers. */
  head: Envelope | undefined;
  timer: Subscription | undefined;
}

/**
 * Collects fragments by message (origin + first sequence) and returns the whole message when its
 * last fragment arrives, in whatever order they came. Fragment payloads are copied, because
 * inbound frames are only valid during the transport's callback.
 *
 * Memory is bounded by `maxPendingBytes`, checked before each copy: a fragment that would exceed
 * it drops its whole message (counted in `stats.dropped`). A message that stays incomplete for
 * `timeoutMs` after its first fragment is discarded and counted in `stats.expired`.
 *
 * @example
 * ```ts
 * const reassembler = new Reassembler({ timeoutMs: 10_000 });
 * const env = decodeEnvelope(frame);
 * const whole = env.fragmentCount > 1 ? reassembler.accept(env) : env;
 * if (whole !== undefined) deliver(whole);
 * // on shutdown:
 * reassembler.close();
 * ```
 */
export class Reassembler {
  readonly #timeoutMs: number;
  readonly #maxPendingBytes: number;
  readonly #maxMessageSize: number;
  readonly #scheduler: SchedulerLike;
  readonly #pending = new Map<string, Pending>();
  /** Dropped messages: key → time (scheduler clock) until which their fragments are ignored. */
  readonly #tombstones = new Map<string, number>();
  #pendingBytes = 0;
  #incomplete = 0;
  #expired = 0;
  #dropped = 0;
  #ignored = 0;

  constructor(options: ReassemblerOptions = {}) {
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs ?? 30_000);
    this.#maxPendingBytes = positive('maxPendingBytes', options.maxPendingBytes ?? 64 * 1024 * 1024);
    this.#maxMessageSize = positive('maxMessageSize', options.maxMessageSize ?? 256 * 1024 * 1024);
    this.#scheduler = options.scheduler ?? asyncScheduler;
  }

  /** Counters; a fresh snapshot on every read. */
  get stats(): ReassemblerStats {
    return {
      expired: this.#expired,
      dropped: this.#dropped,
      ignored: this.#ignored,
      pending: this.#incomplete,
      pendingBytes: this.#pendingBytes,
    };
  }

  /**
   * Take one envelope. An unfragmented one is returned as is; a fragment is copied and held, and
   * the whole message is returned when this fragment completes it, `undefined` otherwise.
   *
   * @example
   * ```ts
   * const whole = reassembler.accept(decodeEnvelope(frame));
   * if (whole) console.log(whole.topic, whole.payload.length);
   * ```
   */
  accept(env: Envelope): Envelope | undefined {
    const count = env.fragmentCount;
    if (count <= 1) return env;
    const index = env.fragmentIndex;
    const first = (env.sequence - index) >>> 0;
    const key = `${env.origin}:${first}`;
    let entry = this.#pending.get(key);
    if (entry === undefined) {
      if (this.#isTombstone(key)) return undefined;
      const overhead = MESSAGE_COST + count * SLOT_COST;
      if (this.#pendingBytes + overhead + env.payload.length > this.#maxPendingBytes) {
        this.#dropped += 1;
        this.#bury(key);
        return undefined;
      }
      entry = this.#open(key, count, overhead);
    }
    if (count !== entry.count || index >= count || entry.parts[index] !== undefined) {
      this.#ignored += 1;
      return undefined;
    }
    const length = env.payload.length;
    if (entry.size + length > this.#maxMessageSize || this.#pendingBytes + length > this.#maxPendingBytes) {
      this.#drop(entry);
      return undefined;
    }
    // Uint8Array's slice, not the payload's own: on a Node Buffer (what sockets deliver) slice is a view.
    entry.parts[index] = Uint8Array.prototype.slice.call(env.payload);
    entry.size += length;
    entry.charged += length;
    this.#pendingBytes += length;
    entry.received += 1;
    if (index === 0) entry.head = env;
    if (entry.received < count) return undefined;
    return this.#complete(entry);
  }

  /**
   * Cancel every expiry timer and discard incomplete messages. Idempotent.
   *
   * @example
   * ```ts
   * await bus.close(); // calls reassembler.close()
   * ```
   */
  close(): void {
    for (const entry of this.#pending.values()) entry.timer?.unsubscribe();
    this.#pending.clear();
    this.#tombstones.clear();
    this.#pendingBytes = 0;
    this.#incomplete = 0;
  }

  /** Start a message whose overhead fits under the cap (checked by the caller). */
  #open(key: string, count: number, overhead: number): Pending {
    const entry: Pending = {
      key,
      count,
      // Allocated only now that its slots were charged against the cap.
      parts: new Array<Uint8Array | undefined>(count),
      received: 0,
      size: 0,
      charged: overhead,
      head: undefined,
      timer: undefined,
    };
    this.#pendingBytes += overhead;
    this.#pending.set(key, entry);
    this.#incomplete += 1;
    entry.timer = this.#scheduler.schedule(() => this.#expire(entry), this.#timeoutMs);
    return entry;
  }

  #expire(entry: Pending): void {
    if (this.#pending.get(entry.key) !== entry) return;
    this.#pending.delete(entry.key);
    this.#release(entry);
    this.#expired += 1;
  }

  /** Give up on a message and remember it until its timeout, so its later fragments are ignored. */
  #drop(entry: Pending): void {
    entry.timer?.unsubscribe();
    this.#pending.delete(entry.key);
    this.#release(entry);
    this.#dropped += 1;
    this.#bury(entry.key);
  }

  #bury(key: string): void {
    // Dropped messages need no timer: a tombstone is checked against the clock when looked up.
    this.#tombstones.delete(key);
    this.#tombstones.set(key, this.#scheduler.now() + this.#timeoutMs);
    if (this.#tombstones.size > MAX_TOMBSTONES) {
      const oldest = this.#tombstones.keys().next().value as string;
      this.#tombstones.delete(oldest);
    }
  }

  #isTombstone(key: string): boolean {
    const until = this.#tombstones.get(key);
    if (until === undefined) return false;
    if (this.#scheduler.now() < until) return true;
    this.#tombstones.delete(key);
    return false;
  }

  #release(entry: Pending): void {
    this.#pendingBytes -= entry.charged;
    entry.charged = 0;
    this.#incomplete -= 1;
  }

  #complete(entry: Pending): Envelope {
    entry.timer?.unsubscribe();
    this.#pending.delete(entry.key);
    this.#release(entry);
    const payload = new Uint8Array(entry.size);
    let at = 0;
    for (const part of entry.parts) {
      const bytes = part as Uint8Array;
      payload.set(bytes, at);
      at += bytes.length;
    }
    const head = entry.head as Envelope;
    return {
      kind: head.kind,
      flags: head.flags & ~FrameFlags.Fragment,
      encoding: head.encoding,
      origin: head.origin,
      sequence: (head.sequence - head.fragmentIndex) >>> 0,
      correlation: head.correlation,
      fragmentIndex: 0,
      fragmentCount: 1,
      topic: head.topic,
      headers: head.headers,
      payload,
    };
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value))
    throw new ConfigurationError(`${name} must be a positive number, got ${value}`);
  return value;
}
