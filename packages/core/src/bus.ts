/**
 * The Bus: publish/subscribe and request/reply over one transport.
 *
 * Design notes for the next engineer:
 * - Every frame this member sends goes through {@link Bus.emit}, which delivers it locally when a
 *   local subscriber or handler wants it and hands it to the transport when another member might.
 *   Local delivery decodes the encoded frame, so a subscriber never shares an object with the
 *   publisher, whatever the transport; for a frame that also goes out, it waits until the
 *   transport accepted it. Frames go out in the order emitted: behind a fragmented message or a
 *   frame not yet accepted, later ones wait in the outbox. Only frames handed to the transport take
 *   a sequence number.
 * - Every frame received goes through {@link Bus.receive}: decode, duplicate suppression (for the
 *   sequenced kinds), reassembly, then dispatch by kind.
 * - Interest (subscriptions, handlers, the inbox) is announced with control frames and announced
 *   again each time the transport comes back to `open`, so hubs that restart relearn it.
 *
 * @module
 */
import {
  BehaviorSubject,
  distinctUntilChanged,
  isObservable,
  Observable,
  type Subscriber,
  type Subscription,
} from 'rxjs';
import { ActiveHandlings } from './active-handlings.js';
import type { BusOptions, ResolvedBusOptions } from './bus-options.js';
import { codecFor, decodePayloadAt } from './codec.js';
import { DedupWindow } from './dedup-window.js';
import { EnvelopeWriter } from './envelope-writer.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  encodeEnvelope,
  encodeEnvelopeInRoom,
  ENVELOPE_HEADER_SIZE,
  type Envelope,
  type EnvelopeInit,
  envelopeHeadSize,
  envelopeSize,
  headersSizeBound,
  FrameEnvelope,
  FrameFlags,
  FrameKind,
  type Headers,
  readEnvelope,
  setEnvelopeSequence,
} from './envelope.js';
import {
  BufferFullError,
  BuswayError,
  ClosedError,
  ConnectionLostError,
  FrameTooLargeError,
  LinkLimitError,
  NoRespondersError,
  PeerLostError,
  TimeoutError,
} from './errors.js';
import { fragmentEnvelope } from './fragmenter.js';
import { inboxTopic, memberName } from './inbox.js';
import { MAX_PATTERNS_PER_LINK } from './interest-router.js';
import type { BusStats, Message, PublishOptions, RequestHandler, RequestOptions, Sender } from './message.js';
import { msgpackCodec } from './codec.js';
import { Reassembler } from './reassembler.js';
import { PendingRequests } from './pending-requests.js';
import { RequestDeadlines } from './request-deadlines.js';
import { decodeRemoteError, encodeRemoteError } from './remote-error.js';
import { TopicTrie, validatePattern, validateTopic } from './topic.js';
import type { ConnectionState, InboundFrame, PeerIdentity, Transport, TransportCapabilities } from './transport.js';

/**
 * Kinds that carry a per-origin sequence number and go through duplicate suppression, as one bit
 * per kind: every frame sent and received asks, and a bit test is cheaper than a Set lookup.
 */
const SEQUENCED_BITS = [
  FrameKind.Publish,
  FrameKind.Request,
  FrameKind.Reply,
  FrameKind.ReplyEnd,
  FrameKind.ReplyError,
  FrameKind.Cancel,
  FrameKind.Ack,
].reduce((bits, kind) => bits | (1 << kind), 0);

function isSequenced(kind: number): boolean {
  return ((SEQUENCED_BITS >>> kind) & 1) === 1;
}

const EMPTY_HEADERS: Headers = Object.freeze({});
/** What `publish` returns when the transport accepted the frame synchronously (most do). */
const RESOLVED: Promise<void> = Promise.resolve();
/** Stands for "no peer identity" as a WeakMap key. */
const NO_PEER: PeerIdentity = Object.freeze({});

interface LocalSubscription {
  readonly pattern: string;
  readonly observer: { next(message: Message): void; complete(): void };
}

interface LocalHandler {
  readonly pattern: string;
  readonly handler: RequestHandler;
}

interface PendingRequest {
  readonly correlation: number;
  readonly topic: string;
  readonly timeout: number;
  /** Kept by `#deadlines` (see `Timed`). */
  deadline: number;
  /** Set once it left `#pending`: answered, failed, timed out or unsubscribed. */
  settled: boolean;
  readonly observer: {
    next(value: unknown): void;
    error(err: unknown): void;
    complete(): void;
  };
  /** The member answering, once its first reply or ack arrived. */
  responder: number | undefined;
  /** A local handler serves it; `NoResponders` from a router does not apply. */
  servedLocally: boolean;
}

/** Frames waiting in the outbox for those ahead of them (see `Bus.#emit`). */
interface Outgoing {
  /** One frame, or the fragments of one message; sequenced ones are numbered as they go out. */
  readonly frames: Uint8Array[];
  readonly sequenced: boolean;
  /** The whole message for this member's own subscribers, delivered once every frame was accepted. */
  readonly local: Uint8Array | undefined;
  /** Bytes of `frames`, counted against `maxQueuedBytes` while the entry waits. */
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface ActiveHandling {
  /** The requester's member id. */
  readonly requester: number;
  /** The requester's inbox. */
  readonly replyTo: string;
  readonly correlation: number;
  subscription: Subscription | undefined;
  /** Set once a reply frame went out, so the deferred ack is skipped. */
  answered: boolean;
  readonly topic: string;
  /** Registered in `#active` (kept by `ActiveHandlings`). */
  held: boolean;
}

/** Resolved defaults, see {@link BusOptions}. */
export function resolveBusOptions(options: BusOptions): ResolvedBusOptions {
  return {
    codec: options.codec ?? msgpackCodec,
    requestTimeout: options.requestTimeout ?? 10_000,
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    maxMessageSize: options.maxMessageSize ?? 256 * 1024 * 1024,
    fragmentTimeout: options.fragmentTimeout ?? 30_000,
    maxReassemblyBytes: options.maxReassemblyBytes ?? 64 * 1024 * 1024,
    dedupWindow: options.dedupWindow ?? 1024,
    maxSenders: options.maxSenders ?? 4096,
    maxQueuedBytes: options.maxQueuedBytes ?? 64 * 1024 * 1024,
    transportOptions: options.transportOptions ?? {},
  };
}

/**
 * A member of a bus. Create one with `createBus`.
 *
 * @example
 * ```ts
 * const bus = await createBus('memory://shop');
 * bus.handle('price.quote', (req) => ({ sku: req.data, price: 42 }));
 * bus.request('price.quote', 'A').subscribe((quote) => console.log(quote));
 * ```
 */
export class Bus {
  /** This member's id (base 36), as other members see it in `Message.sender.member`. */
  readonly id: string;

  readonly #memberId: number;
  readonly #transport: Transport;
  readonly #options: ResolvedBusOptions;
  readonly #inbox: string;
  readonly #state = new BehaviorSubject<ConnectionState>('connecting');
  readonly #dedup: DedupWindow;
  readonly #reassembler: Reassembler;
  readonly #frameLimit: number;
  /** Below both the frame limit and `maxMessageSize`: a rough size bound is enough under it. */
  readonly #exactSizeAbove: number;
  /** For a transport that writes frames in place (`sendInPlace`); undefined for the others. */
  readonly #inPlace: EnvelopeWriter | undefined;
  /** Frames waiting for those ahead of them to be accepted; undefined while nothing is on its way. */
  #outbox: Outgoing[] | undefined;
  /** Bytes of the entries waiting in `#outbox` (not of the one being sent). */
  #outboxBytes = 0;

  readonly #subscriptions = new TopicTrie<LocalSubscription>();
  readonly #subscriptionCounts = new Map<string, number>();
  /** Every live subscription, so close() can complete them. */
  readonly #allSubscriptions = new Set<LocalSubscription>();
  readonly #handlers = new TopicTrie<LocalHandler>();
  readonly #handlerCounts = new Map<string, number>();
  readonly #pending = new PendingRequests<PendingRequest>();
  readonly #deadlines = new RequestDeadlines<PendingRequest>((pending) => this.#timedOut(pending));
  /** Handlers running for remote or local requesters, by requester and correlation id. */
  readonly #active = new ActiveHandlings<ActiveHandling>();

  readonly #senders = new WeakMap<PeerIdentity, Map<number, Sender>>();
  /**
   * The sender of the last message delivered, with its origin and peer: messages in a row mostly
   * come from the same one, which then costs no map lookup. Holds that one peer identity strongly.
   */
  #lastSender: Sender | undefined;
  #lastSenderOrigin = -1;
  #lastSenderPeer: PeerIdentity | undefined;
  #sequence = 0;
  #closing: Promise<void> | undefined;
  /**
   * Set as #shutdown starts. `#closing` is assigned only once #shutdown returns its promise, and a
   * transport that reports 'closed' synchronously inside close() (memory does) would otherwise
   * start a second shutdown from #onTransportState, sending a second Leave.
   */
  #shuttingDown = false;
  #transportSubscriptions: Subscription[] = [];
  #counters = { published: 0, delivered: 0, badFrames: 0 };

  /** @internal Use `createBus`. */
  constructor(transport: Transport, memberId: number, options: ResolvedBusOptions) {
    this.#transport = transport;
    this.#memberId = memberId;
    this.#options = options;
    this.id = memberName(memberId);
    this.#inbox = inboxTopic(memberId);
    this.#dedup = new DedupWindow({ windowSize: options.dedupWindow, maxOrigins: options.maxSenders });
    this.#reassembler = new Reassembler({
      timeoutMs: options.fragmentTimeout,
      maxPendingBytes: options.maxReassemblyBytes,
      maxMessageSize: options.maxMessageSize,
    });
    this.#frameLimit = Math.min(options.maxFrameSize, transport.capabilities.maxFrameSize);
    this.#exactSizeAbove = Math.min(this.#frameLimit, options.maxMessageSize);
    this.#inPlace = transport.sendInPlace === undefined ? undefined : new EnvelopeWriter();
  }

  /**
   * What the transport guarantees (reliable, ordered, largest frame, broadcast kind).
   *
   * @example
   * ```ts
   * if (!bus.capabilities.reliable) console.log('lost so far:', bus.stats().gaps);
   * ```
   */
  get capabilities(): TransportCapabilities {
    return this.#transport.capabilities;
  }

  /** Connection state: `connecting`, `open`, `reconnecting`, then `closed` once. */
  get state$(): Observable<ConnectionState> {
    return this.#state.pipe(distinctUntilChanged());
  }

  /** @internal Join the transport; called by `createBus`. */
  async open(): Promise<void> {
    this.#transportSubscriptions.push(
      this.#transport.frames$.subscribe({
        next: (frame) => this.receive(frame),
        error: (err: unknown) => this.#onTransportDown(err),
      }),
      this.#transport.state$.subscribe((state) => this.#onTransportState(state)),
    );
    try {
      await this.#transport.open();
    } catch (err) {
      for (const s of this.#transportSubscriptions) s.unsubscribe();
      this.#state.next('closed');
      this.#state.complete();
      throw err;
    }
    // Transports that do not report 'open' themselves are open once open() resolved.
    if (this.#state.value === 'connecting') this.#onTransportState('open');
  }

  /**
   * Publish `data` on `topic`. Resolves once the transport accepted the frame, or every fragment of
   * a message larger than a frame; this member's own subscribers get the message then, not before.
   * A sender's messages go out in the order of the calls, also when one does not await the last.
   *
   * Rejects with `BufferFullError` when the transport cannot take the message: no subscriber, here
   * or elsewhere, gets it then. (Of a message sent in fragments, those the transport took before it
   * refused one do reach the other members, who never complete it: they drop it after
   * `fragmentTimeout` and count it in `stats().fragmentsExpired`.) Rejects with
   * `FrameTooLargeError` over `maxMessageSize` (nothing is sent), `TopicError` for a bad topic,
   * `ClosedError` after close.
   *
   * @example
   * ```ts
   * await bus.publish('orders.created', { id: 1 }, { headers: { traceparent } });
   * ```
   */
  publish(topic: string, data: unknown, options?: PublishOptions): Promise<void> {
    try {
      this.#assertUsable();
      validateTopic(topic);
      const headers = options?.headers;
      const encoded = this.#encode(data, topic, headers);
      this.#counters.published += 1;
      const sent = this.#emit({
        kind: FrameKind.Publish,
        topic,
        encoding: this.#options.codec.encoding,
        headers,
        payloadHead: encoded.head,
        payload: encoded.payload,
        room: encoded.room,
      });
      return sent ?? RESOLVED;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Messages on topics matching `pattern` (`*` one token, `>` the rest). Cold: interest is
   * announced on subscribe and withdrawn on unsubscribe. Completes when the bus closes.
   *
   * A bus holds at most 10 000 distinct patterns, subscriptions and handlers together (what a hub
   * takes from one member); subscribing to one more errors with `LinkLimitError` (code
   * `LINK_LIMIT`). Subscribing again to a pattern already held always works.
   *
   * @example
   * ```ts
   * const sub = bus.subscribe<Order>('orders.*').subscribe((m) => console.log(m.topic, m.data.id));
   * sub.unsubscribe();
   * ```
   */
  subscribe<T = unknown>(pattern: string): Observable<Message<T>> {
    validatePattern(pattern);
    return new Observable<Message<T>>((observer) => {
      if (this.#closing !== undefined) {
        observer.complete();
        return undefined;
      }
      if (!this.#subscriptionCounts.has(pattern) && this.#patternsFull()) {
        observer.error(new LinkLimitError('patterns', MAX_PATTERNS_PER_LINK));
        return undefined;
      }
      const entry: LocalSubscription = { pattern, observer: observer as LocalSubscription['observer'] };
      this.#subscriptions.add(pattern, entry);
      this.#allSubscriptions.add(entry);
      this.#changeInterest(this.#subscriptionCounts, pattern, FrameKind.Subscribe, +1);
      return () => {
        this.#subscriptions.remove(pattern, entry);
        this.#allSubscriptions.delete(entry);
        this.#changeInterest(this.#subscriptionCounts, pattern, FrameKind.Unsubscribe, -1);
      };
    });
  }

  /**
   * Answer requests on topics matching `pattern`. Returns a function that stops handling.
   * Several members may handle the same topic: a hub sends each request to one of them; on a
   * broadcast transport the first to answer serves it and the others are cancelled.
   *
   * Throws `LinkLimitError` for a pattern past the 10 000 distinct ones a bus holds (see
   * {@link Bus.subscribe}).
   *
   * @example
   * ```ts
   * const off = bus.handle('price.quote', async (req) => lookup(req.data));
   * // streaming:
   * bus.handle('ticks', () => interval(100).pipe(take(5)));
   * off();
   * ```
   */
  handle<Req = unknown, Res = unknown>(pattern: string, handler: RequestHandler<Req, Res>): () => void {
    this.#assertUsable();
    validatePattern(pattern);
    if (!this.#handlerCounts.has(pattern) && this.#patternsFull()) {
      throw new LinkLimitError('patterns', MAX_PATTERNS_PER_LINK);
    }
    const entry: LocalHandler = { pattern, handler: handler as RequestHandler };
    this.#handlers.add(pattern, entry);
    this.#changeInterest(this.#handlerCounts, pattern, FrameKind.Handle, +1);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#handlers.remove(pattern, entry);
      this.#changeInterest(this.#handlerCounts, pattern, FrameKind.Unhandle, -1);
    };
  }

  /**
   * Send a request and receive its replies. Cold: nothing is sent until subscribed, and
   * unsubscribing before the stream ends sends a cancel to the handler. Errors with
   * `TimeoutError` (no reply within `timeout`), `NoRespondersError` (nobody handles the topic, where
   * the transport can tell), `PeerLostError` (the handler's member left), `ConnectionLostError`
   * (the transport dropped) or the handler's own error.
   *
   * `PeerLostError` needs the requester to know which member serves the request: it learns that
   * from the handler's first reply, or from its ack, sent once the handler has returned without
   * answering (on the next turn of its event loop). A handling member that closes its bus before
   * then still acks first; one whose process dies before then (killed, or crashing in the
   * handler's synchronous part) cannot, and the request fails with `TimeoutError` after `timeout`
   * instead. With `timeout: Infinity` it would wait forever: give requests to handlers that may
   * die a finite timeout.
   *
   * @example
   * ```ts
   * const quote = await firstValueFrom(bus.request('price.quote', { sku: 'A' }, { timeout: 2000 }));
   * bus.request('ticks', null).subscribe({ next: console.log, complete: () => console.log('done') });
   * ```
   */
  request<Res = unknown>(topic: string, data: unknown, options?: RequestOptions): Observable<Res> {
    return new Observable<Res>((observer) => {
      try {
        this.#assertUsable();
        if (this.#state.value !== 'open') throw new ConnectionLostError(`the bus is ${this.#state.value}`);
        validateTopic(topic);
      } catch (err) {
        observer.error(err);
        return undefined;
      }
      const correlation = this.#pending.nextCorrelation();
      const timeout = options?.timeout ?? this.#options.requestTimeout;
      const pending: PendingRequest = {
        correlation,
        topic,
        timeout,
        deadline: -1,
        settled: false,
        observer: observer as PendingRequest['observer'],
        responder: undefined,
        servedLocally: this.#handlers.match(topic).size > 0,
      };
      this.#pending.add(pending);
      this.#armTimer(pending);
      let sent: Promise<void> | void;
      try {
        const headers = options?.headers;
        const encoded = this.#encode(data, topic, headers);
        sent = this.#emit({
          kind: FrameKind.Request,
          topic,
          correlation,
          encoding: this.#options.codec.encoding,
          headers,
          payloadHead: encoded.head,
          payload: encoded.payload,
          room: encoded.room,
        });
        this.#counters.published += 1;
      } catch (err) {
        this.#settle(pending);
        observer.error(err);
        return undefined;
      }
      sent?.catch((err: unknown) => {
        if (this.#settle(pending)) observer.error(err);
      });
      return () => {
        if (!this.#settle(pending) || this.#closing !== undefined) return;
        this.#cancel(pending);
      };
    });
  }

  /**
   * Counters: messages, duplicates dropped, gaps (lost frames), bad frames, reassembly losses,
   * and the transport's own counters prefixed with `transport.`.
   *
   * @example
   * ```ts
   * const { duplicates, gaps } = bus.stats();
   * ```
   */
  stats(): BusStats {
    const dedup = this.#dedup.stats;
    const reassembly = this.#reassembler.stats;
    const out: BusStats = {
      published: this.#counters.published,
      delivered: this.#counters.delivered,
      duplicates: dedup.duplicates,
      // Only a medium that hands every member every frame makes a hole in a sequence mean a loss.
      gaps: this.#transport.capabilities.broadcast === 'native' ? dedup.gaps : 0,
      badFrames: this.#counters.badFrames,
      fragmentsExpired: reassembly.expired,
      reassemblyDropped: reassembly.dropped,
      pendingRequests: this.#pending.size,
    };
    // Publishers poll this for backpressure (transport.sendQueueBytes), so it stays cheap: the
    // prefixed names are built once, and the transport's counters are added to the result rather
    // than spread into it (spreading an object of dotted keys measured 16 µs a call).
    const own = this.#transport.stats?.();
    if (own !== undefined) {
      const record = out as unknown as Record<string, number>;
      for (const k in own) record[transportStatName(k)] = own[k] as number;
    }
    return out;
  }

  /**
   * Leave the bus: tells the others, completes subscriptions, fails pending requests with
   * `ClosedError`, stops handlers and releases the transport. Idempotent.
   *
   * @example
   * ```ts
   * await bus.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#shuttingDown = true;
    const abandoned = this.#active.removeAll();
    if (this.#state.value === 'open') {
      // A requester learns who serves its request from the first ack or reply, and only then
      // takes our Leave as PeerLostError. Acks go out after a handler returns (setImmediate), so a
      // request taken just now has none yet: send it before the Leave, or it waits for its timeout.
      for (const active of abandoned) {
        if (!active.answered) {
          this.#sendQuietly({ kind: FrameKind.Ack, topic: active.replyTo, correlation: active.correlation });
        }
      }
      this.#sendQuietly({ kind: FrameKind.Leave, topic: '_LEAVE' });
    }
    this.#failPending(() => new ClosedError());
    this.#deadlines.clear();
    for (const active of abandoned) active.subscription?.unsubscribe();
    for (const s of [...this.#allSubscriptions]) s.observer.complete();
    this.#allSubscriptions.clear();
    this.#reassembler.close();
    try {
      await this.#transport.close();
    } finally {
      for (const s of this.#transportSubscriptions) s.unsubscribe();
      this.#state.next('closed');
      this.#state.complete();
    }
  }

  /**
   * Handle one inbound frame. Public for transports' tests and for the local loopback; the bytes
   * are only read during the call.
   *
   * @internal
   */
  receive(frame: InboundFrame): void {
    let envelope: Envelope;
    try {
      // Not decodeEnvelope: the payload is decoded in place (see dataOf), no view is made for it.
      envelope = readEnvelope(frame.bytes, this.#options.maxFrameSize, frame.topic);
    } catch {
      this.#counters.badFrames += 1;
      return;
    }
    if (envelope.origin === this.#memberId) return; // our own frame echoed by a broadcast medium
    if (isSequenced(envelope.kind) && !this.#dedup.accept(envelope.origin, envelope.sequence)) return;
    if (envelope.fragmentCount > 1) {
      const whole = this.#reassembler.accept(envelope);
      if (whole === undefined) return;
      envelope = whole;
    }
    this.#dispatch(envelope, frame.peer);
  }

  #dispatch(envelope: Envelope, peer: PeerIdentity | undefined): void {
    switch (envelope.kind) {
      case FrameKind.Publish:
        this.#deliver(envelope, peer);
        return;
      case FrameKind.Request:
        this.#serve(envelope, peer);
        return;
      case FrameKind.Reply:
      case FrameKind.ReplyEnd:
      case FrameKind.ReplyError:
      case FrameKind.Ack:
      case FrameKind.NoResponders:
        if (envelope.topic === this.#inbox) this.#answer(envelope);
        return;
      case FrameKind.Cancel:
        this.#cancelHandling(envelope);
        return;
      case FrameKind.Leave:
        this.#memberLeft(envelope.origin);
        return;
      default:
        // Interest and Hello frames matter to routers and membership trackers, not to the bus.
        return;
    }
  }

  #message(envelope: Envelope, peer: PeerIdentity | undefined): Message {
    const sender = this.#senderOf(envelope.origin, peer);
    return {
      topic: envelope.topic,
      data: dataOf(envelope),
      headers: envelope.headers ?? EMPTY_HEADERS,
      sender,
    };
  }

  /**
   * Sender objects are frozen and shared per member and per peer identity (transports hand out
   * one identity object per connection): building one per message showed in profiles.
   */
  #senderOf(origin: number, peer: PeerIdentity | undefined): Sender {
    if (origin === this.#lastSenderOrigin && peer === this.#lastSenderPeer) return this.#lastSender as Sender;
    const key = peer ?? NO_PEER;
    let byOrigin = this.#senders.get(key);
    if (byOrigin === undefined) {
      byOrigin = new Map();
      this.#senders.set(key, byOrigin);
    }
    let sender = byOrigin.get(origin);
    if (sender === undefined) {
      sender = Object.freeze({ ...peer, member: memberName(origin) });
      if (byOrigin.size >= 4096) byOrigin.clear();
      byOrigin.set(origin, sender);
    }
    this.#lastSender = sender;
    this.#lastSenderOrigin = origin;
    this.#lastSenderPeer = peer;
    return sender;
  }

  #deliver(envelope: Envelope, peer: PeerIdentity | undefined): void {
    const targets = this.#subscriptions.match(envelope.topic);
    if (targets.size === 0) return;
    let message: Message;
    try {
      message = this.#message(envelope, peer);
    } catch {
      this.#counters.badFrames += 1;
      return;
    }
    this.#counters.delivered += 1;
    for (const target of targets) target.observer.next(message);
  }

  #serve(envelope: Envelope, peer: PeerIdentity | undefined): void {
    const [entry] = this.#handlers.match(envelope.topic);
    if (entry === undefined) return; // a broadcast medium: another member handles it
    const requester = envelope.origin;
    const correlation = envelope.correlation;
    const active: ActiveHandling = {
      requester,
      replyTo: inboxTopic(requester),
      correlation,
      subscription: undefined,
      answered: false,
      topic: envelope.topic,
      held: false,
    };
    if (!this.#active.claim(active)) return; // a handler of ours is on it already
    let result: unknown;
    try {
      result = entry.handler(this.#message(envelope, peer));
    } catch (err) {
      this.#replyError(active, err);
      return;
    }
    if (isObservable(result)) {
      this.#replyStream(active, result);
    } else if (isPromiseLike(result)) {
      result.then(
        (value) => this.#replyOnce(active, value),
        (err: unknown) => this.#replyError(active, err),
      );
    } else {
      this.#replyOnce(active, result);
    }
    // Tell the requester who is working on it, unless a reply already did: that is what lets it
    // fail at once with PeerLostError if this member dies, and pick one of several handlers.
    if (!active.answered) setImmediate(() => this.#ackUnanswered(active));
  }

  /** Still handling `active`: it has not been cancelled or finished meanwhile. */
  #isActive(active: ActiveHandling): boolean {
    return active.held;
  }

  /** Send one frame of the reply to `active`'s requester; `last` also ends the handling. */
  #reply(active: ActiveHandling, init: SendInit, last: boolean): void {
    if (last) this.#active.release(active);
    active.answered = true;
    let sent: Promise<void> | void;
    try {
      sent = this.#emit(init);
    } catch (err) {
      this.#replyFailed(active, init.kind, err);
      return;
    }
    sent?.catch((err: unknown) => this.#replyFailed(active, init.kind, err));
  }

  /**
   * A frame of the reply could not be sent (larger than `maxMessageSize`, buffer full): end the
   * handling and send the requester a ReplyError carrying that error, so it fails at once with its
   * code rather than wait for its timeout.
   */
  #replyFailed(active: ActiveHandling, kind: FrameKind, err: unknown): void {
    // A ReplyError that cannot be sent leaves nothing smaller to say it with: the timeout covers it.
    if (kind === FrameKind.ReplyError) return;
    this.#active.release(active);
    active.subscription?.unsubscribe();
    const { replyTo: topic, correlation } = active;
    this.#sendQuietly({ kind: FrameKind.ReplyError, topic, correlation, payload: encodeRemoteError(err) });
  }

  /** One reply that also ends the stream: a single frame for value and promise handlers. */
  #replyOnce(active: ActiveHandling, value: unknown): void {
    if (!this.#isActive(active)) return; // cancelled meanwhile
    const { replyTo: topic, correlation } = active;
    let encoded: EncodedPayload;
    try {
      encoded = this.#encode(value, topic, undefined);
    } catch (err) {
      this.#replyError(active, err);
      return;
    }
    const encoding = this.#options.codec.encoding;
    const { head: payloadHead, payload, room } = encoded;
    this.#reply(
      active,
      { kind: FrameKind.Reply, topic, correlation, encoding, payloadHead, payload, room, last: true },
      true,
    );
  }

  #replyError(active: ActiveHandling, err: unknown): void {
    if (!this.#isActive(active)) return;
    const { replyTo: topic, correlation } = active;
    this.#reply(active, { kind: FrameKind.ReplyError, topic, correlation, payload: encodeRemoteError(err) }, true);
  }

  /** A streaming handler: one Reply frame per value, then ReplyEnd (or ReplyError). */
  #replyStream(active: ActiveHandling, values: Observable<unknown>): void {
    const { replyTo: topic, correlation } = active;
    // The wrapper hands us the subscriber the source emits into. A synchronous source runs to its
    // end inside subscribe(), before `active.subscription` is assigned; unsubscribing this
    // subscriber is what stops it from within its own next() once the handling is over.
    let source: Subscriber<unknown> | undefined;
    active.subscription = new Observable<unknown>((subscriber) => {
      source = subscriber;
      return values.subscribe(subscriber);
    }).subscribe({
      next: (value) => {
        if (!this.#isActive(active)) {
          source?.unsubscribe();
          return;
        }
        let encoded: EncodedPayload;
        try {
          encoded = this.#encode(value, topic, undefined);
        } catch (err) {
          source?.unsubscribe();
          this.#replyError(active, err);
          return;
        }
        const encoding = this.#options.codec.encoding;
        const { head: payloadHead, payload, room } = encoded;
        this.#reply(active, { kind: FrameKind.Reply, topic, correlation, encoding, payloadHead, payload, room }, false);
        if (!this.#isActive(active)) source?.unsubscribe(); // the reply could not be sent
      },
      error: (err: unknown) => this.#replyError(active, err),
      complete: () => {
        if (this.#isActive(active)) this.#reply(active, { kind: FrameKind.ReplyEnd, topic, correlation }, true);
      },
    });
  }

  #ackUnanswered(active: ActiveHandling): void {
    if (active.answered || !this.#isActive(active)) return;
    this.#sendQuietly({ kind: FrameKind.Ack, topic: active.replyTo, correlation: active.correlation });
  }

  #answer(envelope: Envelope): void {
    const pending = this.#pending.get(envelope.correlation);
    if (pending === undefined) return;
    if (envelope.kind === FrameKind.NoResponders) {
      if (pending.servedLocally || pending.responder !== undefined) return;
      this.#settle(pending);
      pending.observer.error(new NoRespondersError(pending.topic));
      return;
    }
    if (pending.responder === undefined) {
      pending.responder = envelope.origin;
    } else if (pending.responder !== envelope.origin) {
      // A second handler answered on a broadcast medium: the first one serves; stop this one.
      this.#sendQuietly({
        kind: FrameKind.Cancel,
        topic: inboxTopic(envelope.origin),
        correlation: envelope.correlation,
      });
      return;
    }
    switch (envelope.kind) {
      case FrameKind.Ack:
        this.#armTimer(pending);
        return;
      case FrameKind.Reply: {
        let value: unknown;
        try {
          value = dataOf(envelope);
        } catch (err) {
          this.#settle(pending);
          pending.observer.error(err);
          return;
        }
        if ((envelope.flags & FrameFlags.Last) !== 0) {
          this.#settle(pending);
          pending.observer.next(value);
          pending.observer.complete();
          return;
        }
        this.#armTimer(pending);
        pending.observer.next(value);
        return;
      }
      case FrameKind.ReplyEnd:
        this.#settle(pending);
        pending.observer.complete();
        return;
      case FrameKind.ReplyError:
        this.#settle(pending);
        pending.observer.error(replyError(envelope));
        return;
    }
  }

  #cancelHandling(envelope: Envelope): void {
    this.#active.remove(envelope.origin, envelope.correlation)?.subscription?.unsubscribe();
  }

  #memberLeft(origin: number): void {
    this.#dedup.forget(origin);
    for (const pending of this.#pending.values()) {
      if (pending.responder === origin) {
        this.#settle(pending);
        pending.observer.error(new PeerLostError(memberName(origin)));
      }
    }
    for (const active of this.#active.removeRequester(origin)) active.subscription?.unsubscribe();
  }

  /** Remove a pending request and its timer; true if it was still pending. */
  #settle(pending: PendingRequest): boolean {
    if (pending.settled) return false;
    pending.settled = true;
    this.#pending.delete(pending);
    this.#deadlines.disarm(pending, pending.timeout);
    return true;
  }

  /** (Re)start the request's clock: on sending, and on each sign of life from its handler. */
  #armTimer(pending: PendingRequest): void {
    this.#deadlines.arm(pending, pending.timeout);
  }

  #timedOut(pending: PendingRequest): void {
    if (!this.#settle(pending)) return;
    this.#cancel(pending);
    pending.observer.error(new TimeoutError(pending.topic, pending.timeout));
  }

  /** Stop the handler of a request the requester gave up: the one that answered, or every one. */
  #cancel(pending: PendingRequest): void {
    const correlation = pending.correlation;
    if (pending.responder === undefined && pending.servedLocally) {
      // The request went to a local handler only (#wantsRemote), which has not replied or acked
      // yet: a Cancel to the request topic would reach only the other members, never it.
      this.#active.remove(this.#memberId, correlation)?.subscription?.unsubscribe();
      return;
    }
    const target = pending.responder === undefined ? pending.topic : inboxTopic(pending.responder);
    this.#sendQuietly({ kind: FrameKind.Cancel, topic: target, correlation });
  }

  #failPending(makeError: () => BuswayError): void {
    for (const pending of this.#pending.values()) {
      if (this.#settle(pending)) pending.observer.error(makeError());
    }
  }

  #onTransportState(state: ConnectionState): void {
    if (this.#closing !== undefined || this.#shuttingDown) return;
    const previous = this.#state.value;
    if (state === 'open' && previous !== 'open') {
      this.#state.next('open');
      this.#announceInterest();
      return;
    }
    if (state !== 'open' && previous === 'open') {
      // Replies in flight are lost with the link: fail every waiting request now, never hang.
      this.#failPending(() => new ConnectionLostError(`the transport is ${state}`));
      for (const active of this.#active.removeAll()) active.subscription?.unsubscribe();
    }
    if (state === 'closed') {
      this.#onTransportDown(new ConnectionLostError('the transport closed'));
      return;
    }
    this.#state.next(state);
  }

  #onTransportDown(err: unknown): void {
    if (this.#closing !== undefined || this.#shuttingDown) return;
    this.#failPending(() => (err instanceof BuswayError ? err : new ConnectionLostError(undefined, { cause: err })));
    this.#closing = this.#shutdown().catch(() => undefined);
  }

  #announceInterest(): void {
    this.#sendQuietly({ kind: FrameKind.Subscribe, topic: this.#inbox });
    for (const pattern of this.#subscriptionCounts.keys())
      this.#sendQuietly({ kind: FrameKind.Subscribe, topic: pattern });
    for (const pattern of this.#handlerCounts.keys()) this.#sendQuietly({ kind: FrameKind.Handle, topic: pattern });
  }

  /**
   * This member holds as many distinct patterns (subscriptions and handlers together) as a hub
   * takes from one member. A hub closes a link that goes past it, and the member would then
   * reconnect and announce them all again, to be closed again; the hub's own member would lose the
   * pattern without a word. So the bus refuses it first, on every transport alike.
   */
  #patternsFull(): boolean {
    return this.#subscriptionCounts.size + this.#handlerCounts.size >= MAX_PATTERNS_PER_LINK;
  }

  #changeInterest(counts: Map<string, number>, pattern: string, kind: FrameKind, delta: 1 | -1): void {
    const count = (counts.get(pattern) ?? 0) + delta;
    if (count > 0) counts.set(pattern, count);
    else counts.delete(pattern);
    const announce = (delta > 0 && count === 1) || (delta < 0 && count === 0);
    if (announce && this.#state.value === 'open' && this.#closing === undefined) {
      this.#sendQuietly({ kind, topic: pattern });
    }
  }

  /** Send a control or reply frame; a failure is counted, not thrown (the peer's timeout covers it). */
  #sendQuietly(init: SendInit): void {
    try {
      const sent = this.#emit(init);
      sent?.catch(() => undefined);
    } catch {
      // Nothing to do: the requester's timeout or the next reconnect's announcement covers it.
    }
  }

  /**
   * Encode and send one message: delivers it locally when this member is interested, and hands it
   * to the transport when another member may be, in fragments when it exceeds the frame limit.
   *
   * Only a frame that goes to the transport takes a sequence number, so that a receiver sees one
   * number after another from this member (a hole means a lost frame on a broadcast medium).
   * Frames reach the transport in the order they were emitted: while a fragmented message, or a
   * frame the transport has not accepted yet, is on its way, later frames wait in the outbox, and
   * take their numbers as they are handed over. Local subscribers get a message once the transport
   * accepted all of it, so a message the transport refuses reaches no one.
   *
   * Throws (or rejects) with `FrameTooLargeError` over `maxMessageSize`, and with what the
   * transport throws.
   */
  #emit(init: SendInit): Promise<void> | void {
    const kind = init.kind;
    const topic = init.topic;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: under both limits by this bound, a message needs
    // no exact count (which would encode its headers once more just to measure them).
    const room = init.room ?? 0;
    let size =
      ENVELOPE_HEADER_SIZE + topic.length * 3 + (init.payload?.length ?? 0) - room + (init.payloadHead?.length ?? 0);
    if (init.headers !== undefined) size += headersSizeBound(init.headers);
    if (size > this.#exactSizeAbove) size = envelopeSize(withoutRoom(init));
    if (size > this.#options.maxMessageSize) throw new FrameTooLargeError(size, this.#options.maxMessageSize);
    const local = this.#wantsLocally(kind, topic);
    if (!this.#wantsRemote(kind, topic)) {
      if (local) this.#dispatchOwn(this.#frame(init, 0));
      return undefined;
    }
    const sequenced = isSequenced(kind);
    if (size > this.#frameLimit) {
      // Numbered 0, 1, ... here; the outbox numbers each fragment for real as it goes out.
      let index = 0;
      const frames = fragmentEnvelope(this.#envelope(withoutRoom(init), 0), this.#frameLimit, () => (index += 1));
      return this.#enqueue(frames, sequenced, local ? this.#frame(init, 0) : undefined);
    }
    if (this.#outbox !== undefined) {
      const frame = this.#frame(init, 0);
      return this.#enqueue([frame], sequenced, local ? frame : undefined);
    }
    // The common case: one frame, nothing waiting. No array, no fragmenter, no promise.
    const sequence = sequenced ? this.#nextSequence() : 0;
    const inPlace = this.#inPlace;
    let frame: Uint8Array | undefined;
    let sent: Promise<void> | void;
    try {
      if (inPlace !== undefined && !local && init.headers === undefined) {
        // Written straight into the transport's memory: no frame to allocate. (A frame with
        // headers would encode them twice, to size and to write: it takes the plain path.)
        // No room to leave behind: #encode gives room only where there is no sendInPlace.
        const length = inPlace.arm(init, this.#memberId, sequence);
        try {
          sent = (this.#transport.sendInPlace as NonNullable<Transport['sendInPlace']>)(length, inPlace);
        } finally {
          inPlace.disarm();
        }
      } else {
        frame = this.#frame(init, sequence);
        sent = this.#transport.send(frame);
      }
    } catch (err) {
      if (sequenced) this.#unsequence(sequence);
      throw err;
    }
    if (sent === undefined) {
      if (local) this.#dispatchOwn(frame as Uint8Array);
      return undefined;
    }
    // Accepted later: what comes next waits behind it.
    this.#outbox = [];
    return this.#acceptedLater(sent, local ? frame : undefined, sequenced ? sequence : undefined);
  }

  /**
   * `data` as an envelope's payload for a frame on `topic`: a binary value as it is, behind its
   * codec's head (the frame is its only copy); anything else encoded, and behind room for the
   * envelope's head when the frame is likely to be written whole (no headers, no transport memory
   * to write into), so that the encoding becomes the frame. Throws what the codec throws.
   */
  #encode(data: unknown, topic: string, headers: Headers | undefined): EncodedPayload {
    const codec = this.#options.codec;
    const head = codec.head?.(data);
    if (head !== undefined) return { head, payload: data as Uint8Array, room: 0 };
    if (codec.encodeWithRoom !== undefined && this.#inPlace === undefined && headers === undefined) {
      // The codec may decline (msgpackr leaves at most 255 bytes: a long topic goes without).
      const room = envelopeHeadSize(topic);
      const payload = codec.encodeWithRoom(data, room);
      if (payload !== undefined) return { head: undefined, payload, room };
    }
    return { head: undefined, payload: codec.encode(data), room: 0 };
  }

  /** The frame of `init` from this member: written around its payload when it has room for the head. */
  #frame(init: SendInit, sequence: number): Uint8Array {
    const envelope = this.#envelope(init, sequence);
    const room = init.room ?? 0;
    return room > 0 ? encodeEnvelopeInRoom(envelope, room) : encodeEnvelope(envelope);
  }

  /** The envelope of `init` from this member. */
  #envelope(init: SendInit, sequence: number): EnvelopeInit {
    // Spelled out field by field: an object spread of the varied `init` shapes was the single
    // largest cost of a publish in profiles.
    return {
      kind: init.kind,
      origin: this.#memberId,
      sequence,
      topic: init.topic,
      encoding: init.encoding,
      correlation: init.correlation,
      headers: init.headers,
      payload: init.payload,
      payloadHead: init.payloadHead,
      last: init.last,
    };
  }

  /** Deliver a frame of our own to this member's subscribers, handler or pending request. */
  #dispatchOwn(frame: Uint8Array): void {
    this.#dispatch(readEnvelope(frame, Number.MAX_SAFE_INTEGER), undefined);
  }

  /**
   * The frame that made the outbox busy settled: deliver it locally (`local`, the frame, when this
   * member wants it too) or give its number back.
   */
  async #acceptedLater(
    sent: Promise<void>,
    local: Uint8Array | undefined,
    sequence: number | undefined,
  ): Promise<void> {
    try {
      await sent;
    } catch (err) {
      if (sequence !== undefined) this.#unsequence(sequence);
      void this.#pump();
      throw err;
    }
    if (local !== undefined) this.#dispatchOwn(local);
    void this.#pump();
  }

  /** Queue frames behind those in progress; resolves once the transport accepted them all. */
  #enqueue(frames: Uint8Array[], sequenced: boolean, local: Uint8Array | undefined): Promise<void> {
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    return new Promise<void>((resolve, reject) => {
      const entry: Outgoing = { frames, sequenced, local, bytes, resolve, reject };
      if (this.#outbox !== undefined) {
        // A publisher that does not await would otherwise pile messages up here without bound.
        const limit = this.#options.maxQueuedBytes;
        if (this.#outboxBytes + bytes > limit) {
          reject(new BufferFullError(limit, `the bus's send queue is full (${limit} bytes); the frame was not sent`));
          return;
        }
        this.#outboxBytes += bytes;
        this.#outbox.push(entry);
        return;
      }
      this.#outboxBytes += bytes;
      this.#outbox = [entry];
      void this.#pump();
    });
  }

  /**
   * Hand the outbox to the transport, one frame at a time, awaiting each (a transport's promise
   * is its backpressure; a synchronous one still yields, so that a memory domain drains between
   * fragments). Runs until the outbox is empty, then marks it idle.
   */
  async #pump(): Promise<void> {
    const outbox = this.#outbox as Outgoing[];
    for (let entry = outbox.shift(); entry !== undefined; entry = outbox.shift()) {
      this.#outboxBytes -= entry.bytes;
      try {
        for (const frame of entry.frames) {
          // Nothing else takes a number while the outbox is busy: a message's fragments get
          // consecutive ones, as the receiver needs.
          const sequence = entry.sequenced ? this.#nextSequence() : 0;
          if (entry.sequenced) setEnvelopeSequence(frame, sequence);
          try {
            await this.#transport.send(frame);
          } catch (err) {
            if (entry.sequenced) this.#unsequence(sequence);
            throw err;
          }
        }
      } catch (err) {
        // Fragments already accepted reach the others but are never completed: they expire there.
        entry.reject(err);
        continue;
      }
      try {
        if (entry.local !== undefined) this.#dispatchOwn(entry.local);
      } finally {
        entry.resolve();
      }
    }
    this.#outbox = undefined;
  }

  #wantsLocally(kind: FrameKind, topic: string): boolean {
    switch (kind) {
      case FrameKind.Publish:
        return this.#subscriptions.match(topic).size > 0;
      case FrameKind.Request:
        return this.#handlers.match(topic).size > 0;
      case FrameKind.Reply:
      case FrameKind.ReplyEnd:
      case FrameKind.ReplyError:
      case FrameKind.Ack:
      case FrameKind.Cancel:
        return topic === this.#inbox;
      default:
        return false;
    }
  }

  #wantsRemote(kind: FrameKind, topic: string): boolean {
    switch (kind) {
      case FrameKind.Request:
        // A local handler serves it; asking the others too would only start work to cancel.
        return this.#handlers.match(topic).size === 0;
      case FrameKind.Reply:
      case FrameKind.ReplyEnd:
      case FrameKind.ReplyError:
      case FrameKind.Ack:
      case FrameKind.Cancel:
        return topic !== this.#inbox;
      default:
        // The kind first: a publish goes out whatever the state, and reading it costs a getter call.
        return kind === FrameKind.Publish || this.#state.value === 'open';
    }
  }

  #nextSequence(): number {
    this.#sequence = (this.#sequence + 1) >>> 0;
    return this.#sequence;
  }

  /** Give back `sequence`, taken for a frame the transport refused, if nothing took one since. */
  #unsequence(sequence: number): void {
    if (this.#sequence === sequence) this.#sequence = (sequence - 1) >>> 0;
  }

  #assertUsable(): void {
    if (this.#closing !== undefined) throw new ClosedError();
  }
}

/**
 * The payload of a received envelope, decoded with the sender's codec: in place for one that
 * `readEnvelope` read (no view of the payload is made), else from its payload view (a message
 * the reassembler put together).
 */
function dataOf(envelope: Envelope): unknown {
  return envelope instanceof FrameEnvelope
    ? decodePayloadAt(envelope.encoding, envelope.frame, envelope.payloadStart)
    : codecFor(envelope.encoding).decode(envelope.payload);
}

/** A value as an envelope's payload; see `Bus.#encode`. */
interface EncodedPayload {
  readonly head: Uint8Array | undefined;
  readonly payload: Uint8Array;
  /** Free bytes at the start of `payload`, before the encoding (see {@link SendInit.room}); 0 for none. */
  readonly room: number;
}

/** What the bus sends: an envelope but for the fields it fills in itself. */
type SendInit = Omit<EnvelopeInit, 'origin' | 'sequence'> & {
  /**
   * `payload` starts with this many free bytes, then the payload (`PayloadCodec.encodeWithRoom`):
   * the envelope's head is written there when the frame is encoded whole. 0 or absent: none.
   */
  readonly room?: number;
};

/** `init` with its payload past the room, for the paths that copy the payload anyway. */
function withoutRoom(init: SendInit): SendInit {
  const room = init.room ?? 0;
  return room === 0 ? init : { ...init, payload: (init.payload as Uint8Array).subarray(room), room: 0 };
}

const transportStatNames = new Map<string, string>();

/** `transport.<name>`, cached: transports report the same few counters on every call. */
function transportStatName(name: string): string {
  let prefixed = transportStatNames.get(name);
  if (prefixed === undefined) {
    prefixed = `transport.${name}`;
    if (transportStatNames.size < 1024) transportStatNames.set(name, prefixed);
  }
  return prefixed;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * The error a `ReplyError` frame carries. From origin 0 (a hub; no member has that id) with code
 * `PEER_LOST`, it is the hub saying the member it handed the request to went before answering:
 * that is the same event as a member's `Leave`, so it is the same class, `PeerLostError`.
 */
function replyError(envelope: Envelope): Error {
  const remote = decodeRemoteError(envelope.payload);
  if (envelope.origin !== 0 || remote.code !== 'PEER_LOST') return remote;
  // The hub names the member in PeerLostError's own message ("member <id> left the bus ...").
  const member = /^member (\S+) /.exec(remote.message)?.[1] ?? 'unknown';
  return new PeerLostError(member);
}
