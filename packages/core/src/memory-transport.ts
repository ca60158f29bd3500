/**
 * `memory://name`: members of one process meet in a named in-process domain. For tests and for
 * embedding: it behaves like a hub transport (routing by interest, `NoResponders`, `Leave` on
 * close) without any I/O.
 *
 * @module
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import { HotStream } from './hot-stream.js';
import { DEFAULT_MAX_FRAME_SIZE } from './envelope.js';
import { BufferFullError, ClosedError, ConfigurationError, FrameTooLargeError } from './errors.js';
import { InterestRouter, type RouterLink } from './interest-router.js';
import type { ConnectionState, InboundFrame, Transport, TransportCapabilities, TransportContext } from './transport.js';

/** Options of the memory transport, from `transportOptions` or the URL's query. */
export type MemoryTransportOptions = Readonly<
  Partial<{
    /** Largest frame, in bytes; larger messages are fragmented by the bus. Default: 16 MiB. */
    maxFrameSize: number;
    /** Bytes queued for delivery in a domain before `send` rejects with BufferFullError. Default: 64 MiB. */
    maxQueuedBytes: number;
  }>
>;

class MemoryDomain {
  readonly router = new InterestRouter<MemberLink>();
  readonly members = new Set<MemberLink>();
  // Two parallel arrays rather than one of {frame, from} objects: one less allocation per frame.
  // Their places are reused from batch to batch: fresh arrays, or arrays cut to length 0 (which
  // gives their store back), cost an allocation per batch, and a batch is mostly one frame.
  private frames: (Uint8Array | undefined)[] = [];
  private senders: (MemberLink | undefined)[] = [];
  /** Frames queued: `[0, tail)`. */
  private tail = 0;
  /** Set while a batch is routed: frames sent meanwhile join it. */
  private draining = false;
  /** Members that closed while a batch was routed: they leave when it ends. */
  private leaving: MemberLink[] = [];
  queuedBytes = 0;
  badFrames = 0;
  private scheduled = false;

  private readonly drainBound = (): void => this.drain();

  constructor(
    readonly name: string,
    readonly maxQueuedBytes: number,
  ) {}

  /**
   * `link`'s member closes. What it sent is routed first: a frame accepted by `send` is delivered
   * even if its sender closes right after. When it closes from inside a batch being routed (a
   * callback of its own), it leaves once that batch has been routed to the end instead: routing
   * the rest of the queue from inside the frame being routed would hand the later frames to the
   * members it had not reached yet before that frame.
   */
  leave(link: MemberLink): void {
    if (this.draining) {
      this.leaving.push(link);
      return;
    }
    this.drain();
    this.#detach(link);
  }

  #detach(link: MemberLink): void {
    this.members.delete(link);
    this.router.remove(link);
    if (this.members.size === 0 && domains.get(this.name) === this) domains.delete(this.name);
  }

  /**
   * Frames are routed in a microtask batch: asynchronous like real transports, without timers. A
   * frame sent while the batch is being routed (a handler answering at once) joins it, so a
   * request and its reply take one microtask between them, not two.
   */
  enqueue(frame: Uint8Array, from: MemberLink): void {
    if (this.queuedBytes + frame.length > this.maxQueuedBytes) throw new BufferFullError(this.maxQueuedBytes);
    const tail = this.tail;
    this.frames[tail] = frame;
    this.senders[tail] = from;
    this.tail = tail + 1;
    this.queuedBytes += frame.length;
    if (!this.scheduled && !this.draining) {
      this.scheduled = true;
      // A resolved promise rather than queueMicrotask: Node wraps each queueMicrotask callback in an
      // AsyncResource, which showed in request round-trip profiles.
      void RESOLVED.then(this.drainBound);
    }
  }

  /** Route everything queued; called from the microtask, and on close so accepted frames are not lost. */
  drain(): void {
    this.scheduled = false;
    const frames = this.frames;
    const senders = this.senders;
    this.draining = true;
    try {
      for (let i = 0; i < this.tail; i += 1) {
        const frame = frames[i] as Uint8Array;
        const from = senders[i] as MemberLink;
        frames[i] = undefined; // not kept alive by the queue once routed
        senders[i] = undefined;
        this.queuedBytes -= frame.length;
        if (!this.members.has(from)) continue;
        try {
          this.router.route(frame, from);
        } catch {
          // A malformed frame disconnects its sender only, as a hub connection would be closed.
          this.badFrames += 1;
          from.disconnect();
        }
      }
    } finally {
      this.draining = false;
      // A burst's places are let go; a batch's few are kept for the next.
      if (this.tail > KEEP_PLACES) {
        this.frames = [];
        this.senders = [];
      }
      this.tail = 0;
      const leaving = this.leaving;
      if (leaving.length > 0) {
        this.leaving = [];
        for (const link of leaving) this.#detach(link);
      }
    }
  }
}

/** Queue places a domain keeps between batches (see {@link MemoryDomain.drain}). */
const KEEP_PLACES = 1024;

const domains = new Map<string, MemoryDomain>();
const RESOLVED = Promise.resolve();

class MemberLink implements RouterLink {
  constructor(
    private readonly frames: HotStream<InboundFrame>,
    readonly disconnect: () => void,
  ) {}
  /** `topic`: the router's, for a frame it checked and read; the bus takes it as it is. */
  deliver(frame: Uint8Array, topic?: string): void {
    this.frames.next({ bytes: frame, topic });
  }
}

/**
 * A member of an in-process domain.
 *
 * @example
 * ```ts
 * const transport = new MemoryTransport(new URL('memory://test'), { memberId: 1, maxFrameSize: 1 << 24, options: {} });
 * await transport.open();
 * ```
 */
export class MemoryTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  readonly #frames = new HotStream<InboundFrame>();
  readonly frames$: Observable<InboundFrame> = this.#frames.observable;
  readonly #state = new BehaviorSubject<ConnectionState>('connecting');
  readonly state$ = this.#state.asObservable();
  readonly #name: string;
  readonly #maxQueuedBytes: number;
  #domain: MemoryDomain | undefined;
  #link: MemberLink | undefined;

  constructor(url: URL, context: TransportContext) {
    const options = { ...context.options, ...Object.fromEntries(url.searchParams) } as Record<string, unknown>;
    const maxFrameSize = positive(options.maxFrameSize, 'maxFrameSize') ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxQueuedBytes = positive(options.maxQueuedBytes, 'maxQueuedBytes') ?? 64 * 1024 * 1024;
    this.#name = url.host + url.pathname;
    if (this.#name === '') throw new ConfigurationError('memory:// needs a name, for example memory://orders');
    this.capabilities = { reliable: true, ordered: true, maxFrameSize, broadcast: 'hub', knowsResponders: true };
  }

  async open(): Promise<void> {
    let domain = domains.get(this.#name);
    if (domain === undefined) {
      domain = new MemoryDomain(this.#name, this.#maxQueuedBytes);
      domains.set(this.#name, domain);
    }
    this.#domain = domain;
    this.#link = new MemberLink(this.#frames, () => void this.close());
    domain.members.add(this.#link);
    domain.router.add(this.#link);
    this.#state.next('open');
  }

  send(frame: Uint8Array): void {
    if (this.#domain === undefined || this.#link === undefined)
      throw new ClosedError('the memory transport is not open');
    if (frame.length > this.capabilities.maxFrameSize)
      throw new FrameTooLargeError(frame.length, this.capabilities.maxFrameSize);
    this.#domain.enqueue(frame, this.#link);
  }

  async close(): Promise<void> {
    const domain = this.#domain;
    const link = this.#link;
    this.#domain = undefined;
    this.#link = undefined;
    if (domain !== undefined && link !== undefined) domain.leave(link);
    if (this.#state.value !== 'closed') {
      this.#state.next('closed');
      this.#frames.complete();
    }
  }

  stats(): Readonly<Record<string, number>> {
    return { queuedBytes: this.#domain?.queuedBytes ?? 0, badFrames: this.#domain?.badFrames ?? 0 };
  }
}

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new ConfigurationError(`memory:// option ${name} must be a positive integer`);
  return n;
}
