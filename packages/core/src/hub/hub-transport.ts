/**
 * `HubTransport`: one implementation of the hub election, routing, reconnection and buffering
 * that every hub-based transport shares (TCP and TLS in `@busway/transport-socket`, named pipes
 * and Unix sockets in `@busway/transport-pipe`). A transport package supplies only a
 * {@link HubEndpoint} (listen / connect producing {@link FrameLink}s) and gets the rest.
 *
 * ## Design (read this before building a new hub transport on it)
 *
 * - **Election by bind.** Every attempt first tries `endpoint.listen()`. The OS lets exactly one
 *   process bind an address, so whoever binds is the hub: no voting, no split brain. An endpoint
 *   rejects with {@link AddressInUseError} when somebody else holds the address (or it is not
 *   local), and the member then `connect()`s to the hub instead.
 * - **The hub is a member too.** The hub routes with core's `InterestRouter`; its own bus is one
 *   more router link (`self`), so its publishes go through `router.route(frame, self)` exactly
 *   like a remote member's, and frames routed to `self` come out of `frames$`. Frames are
 *   forwarded only to links that showed interest (Subscribe/Handle frames, which the bus re-sends
 *   every time `state$` returns to `'open'`, so a new hub learns interest with no help from here).
 * - **One bad link never hurts the hub.** A frame the router rejects (`FrameError`, a frame in
 *   another member's name, a per-link limit passed) closes the link it came from; a link whose outgoing queue is over its bound (a slow consumer) is closed
 *   rather than letting it hold memory or stall the others. Per-connection limits (handshake
 *   timeout, max frame, connection cap, slowloris) are the endpoint's job, applied before a link
 *   is handed out or while it reads.
 * - **Takeover.** When a member's link to the hub closes, `state$` goes to `'reconnecting'` and
 *   the member immediately races to listen; the winner is the new hub, the rest connect to it.
 *   Failed attempts back off exponentially with jitter ({@link ReconnectBackoff}), the delay
 *   capped at half of `takeoverTimeout`, so a free address is claimed within that bound.
 * - **Buffer, then reject.** While there is no link, `send()` holds frames in an
 *   {@link OutboundBuffer} (bounded, default 8 MiB) and flushes them in order, before `state$`
 *   says `'open'`, so they precede anything sent after reconnecting. Past the bound `send()`
 *   throws `BufferFullError`: nothing is dropped silently.
 * - **What is lost in a takeover.** Frames that were in the dead hub's queues or in flight to it.
 *   Publishes that reach the new hub before their subscribers have reconnected are not lost: for
 *   `takeoverReplay` ms the new hub keeps them and offers them to each member that subscribes
 *   ({@link TakeoverReplay}); duplicates are dropped by the bus. Requests in flight are failed by
 *   the bus when `state$` leaves `'open'`.
 *
 * @module
 */
import { type Observable, ReplaySubject, distinctUntilChanged } from 'rxjs';
import { HotStream } from '../hot-stream.js';
import {
  checkEnvelopeHeader,
  ENVELOPE_HEADER_SIZE,
  encodeEnvelope,
  FrameKind,
  peekOrigin,
  peekTopic,
} from '../envelope.js';
import { ClosedError, ConnectionLostError, FrameTooLargeError } from '../errors.js';
import { InterestRouter, type RouterLink } from '../interest-router.js';
import { allocateBytes } from '../byte-slab.js';
import type { ConnectionState, FrameWriter, InboundFrame, Transport, TransportCapabilities } from '../transport.js';
import { AddressInUseError } from './address-in-use-error.js';
import type { FrameLink, HubEndpoint, HubListener } from './frame-link.js';
import { OutboundBuffer } from './outbound-buffer.js';
import { ReconnectBackoff, type ReconnectBackoffOptions } from './reconnect-backoff.js';
import { TakeoverReplay } from './takeover-replay.js';

/** Options of a {@link HubTransport}. */
export type HubTransportOptions = Readonly<
  Partial<{
    /**
     * Bound on how long the bus is without a hub after the hub dies, in milliseconds: retry
     * delays are capped at half of it. Default: 1000.
     */
    takeoverTimeout: number;
    /** Most bytes of frames held while there is no link; past it `send` throws `BufferFullError`. Default: 8 MiB. */
    bufferLimit: number;
    /** How long the first `open()` keeps trying before it rejects, in milliseconds. Default: 10 000. */
    openTimeout: number;
    /**
     * May this member become the hub? `false` makes it connect only (for example to a hub on
     * another host). Default: true.
     */
    canBeHub: boolean;
    /**
     * For this long after taking over, a new hub keeps the publishes it routes and offers them to
     * members that subscribe meanwhile (they re-announce interest as they reconnect), so fewer
     * messages are lost in a takeover; 0 turns it off. In milliseconds. Default: `takeoverTimeout`.
     */
    takeoverReplay: number;
    /** Retry delays; `maxDelay` defaults to `takeoverTimeout / 2`. Default: initial 20 ms, ×2, jitter 0.5. */
    reconnect: ReconnectBackoffOptions;
  }>
>;

/** What a {@link HubTransport} needs from the bus that owns it. */
export interface HubTransportContext {
  /** Largest frame accepted by `send`, in bytes. */
  readonly maxFrameSize: number;
  /**
   * The member id of the bus that owns the transport. While hub, it is announced to each member
   * that joins, so that members attach the OS identity of their link (the hub's) only to the
   * hub's own frames. Without it, members attach none to any frame. Default: undefined.
   */
  readonly memberId?: number;
}

/** Topic of the `Hello` frame a hub sends first on each link: its origin is the hub's member id. */
const HUB_ANNOUNCEMENT = '_HUB';

/** Whether a Hello frame is a hub's announcement; a malformed one is not. */
function isAnnouncement(frame: Uint8Array): boolean {
  try {
    checkEnvelopeHeader(frame, frame.length);
    return peekTopic(frame) === HUB_ANNOUNCEMENT;
  } catch {
    return false;
  }
}

/** A frame's origin (the sending member), or undefined for a frame too short to have one. */
function originOf(frame: Uint8Array): number | undefined {
  return frame.length < 16 ? undefined : peekOrigin(frame);
}

/**
 * The topic of a frame that has passed `checkEnvelopeHeader`, for the bus to take as it is (see
 * `InboundFrame.topic`); undefined when it is not valid UTF-8, which the bus then finds and counts.
 */
function checkedTopicOf(frame: Uint8Array): string | undefined {
  try {
    return peekTopic(frame);
  } catch {
    return undefined;
  }
}

/** Test seams of a {@link HubTransport}; production code passes none. */
export interface HubTransportSeams {
  /** Random source for backoff jitter. Default: `Math.random`. */
  readonly random?: () => number;
}

interface Role {
  readonly isHub: boolean;
  /** Hub only: start replaying early publishes to late subscribers (after a takeover). */
  startReplay?(graceMs: number, limit: number): void;
  send(frame: Uint8Array): void;
  /** Member only, where its link has it: `FrameLink.sendInPlace`. */
  readonly sendInPlace?: ((length: number, writer: FrameWriter) => void) | undefined;
  /** Bytes waiting in the OS-facing queues of this role's links. */
  queuedBytes(): number;
  close(): Promise<void>;
}

/** The hub's view of one connected member: what the router hands frames to. */
class HubLink implements RouterLink {
  #dead = false;

  constructor(
    readonly link: FrameLink,
    private readonly onSlow: () => void,
  ) {}

  deliver(frame: Uint8Array): void {
    if (this.#dead) return;
    try {
      this.link.send(frame);
    } catch (err) {
      // A slow consumer (queue over its bound) or a link already closing: drop the link, not the
      // hub. Deferred because we are inside router.route(), which must not see links vanish.
      this.#dead = true;
      this.onSlow();
      queueMicrotask(() => this.link.close(err as Error));
    }
  }
}

/**
 * A transport whose members meet at a hub: the first to bind the endpoint's address.
 * See the module documentation for the design.
 *
 * @example
 * ```ts
 * // TcpHubEndpoint and parseSocketUrl come from @busway/transport-socket.
 * export const createTransport: TransportFactory = (url, context) => {
 *   const { host, port } = parseSocketUrl(url);
 *   return new HubTransport(new TcpHubEndpoint(host, port, context.options), context, context.options);
 * };
 * ```
 */
export class HubTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  readonly state$: Observable<ConnectionState>;
  readonly frames$: Observable<InboundFrame>;

  readonly #endpoint: HubEndpoint;
  readonly #maxFrameSize: number;
  readonly #memberId: number | undefined;
  readonly #takeoverTimeout: number;
  readonly #openTimeout: number;
  readonly #canBeHub: boolean;
  readonly #replayMs: number;
  readonly #bufferLimit: number;
  readonly #backoff: ReconnectBackoff;
  readonly #state = new ReplaySubject<ConnectionState>(1);
  readonly #frames = new HotStream<InboundFrame>();
  readonly #pending: OutboundBuffer;
  #current: ConnectionState = 'connecting';
  #role: Role | undefined;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #sleep: { timer: ReturnType<typeof setTimeout>; wake: () => void } | undefined;
  #counters = {
    reconnects: 0,
    takeovers: 0,
    bufferRejected: 0,
    badFrames: 0,
    slowConsumers: 0,
    hubbed: 0,
    replayed: 0,
  };
  #router: InterestRouter<RouterLink> | undefined;

  constructor(
    endpoint: HubEndpoint,
    context: HubTransportContext,
    options: HubTransportOptions = {},
    seams: HubTransportSeams = {},
  ) {
    this.#endpoint = endpoint;
    this.#maxFrameSize = context.maxFrameSize;
    this.#memberId = context.memberId;
    this.#takeoverTimeout = options.takeoverTimeout ?? 1000;
    this.#openTimeout = options.openTimeout ?? 10_000;
    this.#canBeHub = options.canBeHub ?? true;
    this.#replayMs = options.takeoverReplay ?? this.#takeoverTimeout;
    this.#bufferLimit = options.bufferLimit ?? 8 * 1024 * 1024;
    this.#backoff = new ReconnectBackoff({ maxDelay: this.#takeoverTimeout / 2, ...options.reconnect }, seams.random);
    this.#pending = new OutboundBuffer(this.#bufferLimit);
    this.capabilities = {
      reliable: true,
      ordered: true,
      maxFrameSize: context.maxFrameSize,
      broadcast: 'hub',
      knowsResponders: true,
    };
    this.state$ = this.#state.pipe(distinctUntilChanged());
    this.frames$ = this.#frames.observable;
    this.#state.next('connecting');
  }

  /** True while this member is the hub. */
  get isHub(): boolean {
    return this.#role?.isHub === true;
  }

  /**
   * Join: become the hub or connect to it. Rejects with `ConnectionLostError` when neither works
   * within `openTimeout`, and with `ClosedError` if closed meanwhile.
   */
  open(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(new ClosedError('the transport is closed'));
    this.#opening ??= this.#establish(Date.now() + this.#openTimeout);
    return this.#opening;
  }

  /**
   * Send one frame to the domain (to the members interested in it). Buffers while reconnecting;
   * throws `BufferFullError` past the bound, `FrameTooLargeError`, or `ClosedError`.
   */
  send(frame: Uint8Array): void {
    if (this.#closing !== undefined) throw new ClosedError('the transport is closed');
    if (frame.length > this.#maxFrameSize) throw new FrameTooLargeError(frame.length, this.#maxFrameSize);
    const role = this.#role;
    if (role !== undefined && this.#pending.length === 0) {
      role.send(frame);
      return;
    }
    try {
      this.#pending.push(frame);
    } catch (err) {
      this.#counters.bufferRejected += 1;
      throw err;
    }
  }

  /**
   * Send one frame of `length` bytes that `writer` writes (see `Transport.sendInPlace`). A member
   * whose link can take it writes it straight into the link's outgoing buffer; the hub, which
   * needs the frame's bytes to route it, and a member buffering while it reconnects, have it
   * written into a frame of their own and send that. The errors of `send`.
   */
  sendInPlace(length: number, writer: FrameWriter): void {
    if (this.#closing !== undefined) throw new ClosedError('the transport is closed');
    if (length > this.#maxFrameSize) throw new FrameTooLargeError(length, this.#maxFrameSize);
    const inPlace = this.#role?.sendInPlace;
    if (inPlace !== undefined && this.#pending.length === 0) {
      inPlace(length, writer);
      return;
    }
    const frame = allocateBytes(length);
    writer.writeFrame(frame, 0);
    this.send(frame);
  }

  /** Leave: close the link or, as hub, the listener and every member's link. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /**
   * Counters: role, reconnects, takeovers, bytes buffered while reconnecting, bytes queued on the
   * links (`sendQueueBytes`), rejected frames, links closed for bad frames or slowness, as hub
   * the router's: `spoofed` (frames in the name of a member another link owns, or a `Leave` for a
   * member not behind the link), `foreignInbox` (interest in other members' inboxes, ignored) and
   * `peerLost` (requests failed because the member they were sent to went before answering), and
   * the endpoint's own counters if it has `stats()`.
   */
  stats(): Readonly<Record<string, number>> {
    const router = this.#router?.stats();
    const c = this.#counters;
    // Field by field: V8 builds `{ ...counters, more }` (or a clone then assignments) through a slow
    // path that measured 10–18 µs a call on Node 20, and publishers poll stats for backpressure.
    const out: Record<string, number> = {
      reconnects: c.reconnects,
      takeovers: c.takeovers,
      bufferRejected: c.bufferRejected,
      badFrames: c.badFrames,
      slowConsumers: c.slowConsumers,
      hubbed: c.hubbed,
      replayed: c.replayed,
      isHub: this.isHub ? 1 : 0,
      bufferedBytes: this.#pending.bytes,
      sendQueueBytes: this.#role?.queuedBytes() ?? 0,
      bufferedFrames: this.#pending.length,
      links: this.isHub && router !== undefined ? router.links - 1 : 0,
      routed: router?.routed ?? 0,
      unrouted: router?.unrouted ?? 0,
      noResponders: router?.noResponders ?? 0,
      spoofed: router?.spoofed ?? 0,
      foreignInbox: router?.foreignInbox ?? 0,
      peerLost: router?.peerLost ?? 0,
    };
    // The endpoint's counters (a TCP hub's refused and unauthenticated connections) are added
    // one by one for the same reason as above.
    const own = this.#endpoint.stats?.();
    if (own !== undefined) for (const k in own) out[k] = own[k] as number;
    return out;
  }

  async #shutdown(): Promise<void> {
    const sleep = this.#sleep;
    if (sleep !== undefined) {
      clearTimeout(sleep.timer);
      sleep.wake();
    }
    const role = this.#role;
    this.#role = undefined;
    this.#pending.clear();
    this.#setState('closed');
    await role?.close();
    this.#frames.complete();
    this.#state.complete();
  }

  #setState(state: ConnectionState): void {
    if (this.#current === 'closed') return;
    this.#current = state;
    this.#state.next(state);
  }

  /** Try until there is a role; before `deadline` only (the first open), or until closed. */
  async #establish(deadline: number): Promise<void> {
    let lastError: unknown;
    for (;;) {
      if (this.#closing !== undefined) throw new ClosedError('the transport was closed while connecting');
      try {
        const role = await this.#attempt();
        if (role !== undefined) {
          this.#adopt(role);
          return;
        }
      } catch (err) {
        lastError = err;
      }
      if (Date.now() >= deadline) {
        throw new ConnectionLostError(`could not become or reach the hub at ${this.#endpoint.description}`, {
          cause: lastError,
        });
      }
      await this.#delay(this.#backoff.next());
    }
  }

  /** One election round: listen, or connect when someone else is the hub. */
  async #attempt(): Promise<Role | undefined> {
    if (this.#canBeHub) {
      const hub = this.#newHubRole();
      try {
        hub.listener = await this.#endpoint.listen((link) => hub.accept(link));
      } catch (err) {
        if (!(err instanceof AddressInUseError)) throw err;
      }
      if (hub.listener !== undefined) {
        if (this.#closing === undefined) return hub;
        await hub.close();
        return undefined;
      }
    }
    const link = await this.#endpoint.connect();
    if (this.#closing !== undefined) {
      link.close();
      return undefined;
    }
    return this.#newMemberRole(link);
  }

  #adopt(role: Role): void {
    if (role.isHub && this.#current !== 'connecting') {
      this.#counters.takeovers += 1;
      if (this.#replayMs > 0) role.startReplay?.(this.#replayMs, this.#bufferLimit);
    }
    this.#role = role;
    this.#backoff.reset();
    try {
      this.#pending.drain((frame) => role.send(frame));
    } catch {
      // The fresh link refused the backlog; treat it as lost and try again. Frames stay held.
      void role.close();
      return;
    }
    this.#setState('open');
  }

  /** The role ended without close(): reconnect, racing to become the hub. */
  #lost(role: Role): void {
    if (this.#role !== role) return;
    this.#role = undefined;
    if (this.#closing !== undefined) return;
    this.#counters.reconnects += 1;
    this.#setState('reconnecting');
    // No deadline: a member keeps trying until closed; send() buffers meanwhile.
    this.#establish(Number.POSITIVE_INFINITY).catch(() => undefined);
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleep = undefined;
        resolve();
      }, ms);
      this.#sleep = { timer, wake: resolve };
    });
  }

  #newHubRole(): Role & { listener: HubListener | undefined; accept(link: FrameLink): void } {
    const router = new InterestRouter<RouterLink>();
    const links = new Set<FrameLink>();
    // Routing is synchronous, so the link being routed from is known while `self` is handed a
    // frame: that gives the hub's own member the peer identity the contract promises. The router
    // gives the topic of a frame it has checked and read, which the bus then takes as it is.
    let routingFrom: FrameLink | undefined;
    const self: RouterLink = {
      deliver: (frame, topic) => this.#frames.next({ bytes: frame, peer: routingFrom?.peer, topic }),
    };
    router.add(self);
    const counters = this.#counters;
    const closing = (): boolean => this.#closing !== undefined;
    const memberId = this.#memberId;
    const announcement =
      memberId === undefined
        ? undefined
        : encodeEnvelope({ kind: FrameKind.Hello, origin: memberId, sequence: 0, topic: HUB_ANNOUNCEMENT });
    let replay: TakeoverReplay<RouterLink> | undefined;
    const route = (frame: Uint8Array, from: RouterLink, checked: boolean): void => {
      router.route(frame, from, checked);
      if (replay !== undefined) {
        replay.observe(frame, from);
        counters.replayed = replay.replayed;
      }
    };
    const role = {
      isHub: true,
      listener: undefined as HubListener | undefined,
      startReplay(graceMs: number, limit: number): void {
        replay = new TakeoverReplay(limit, graceMs);
      },
      accept(link: FrameLink): void {
        if (closing()) {
          link.close();
          return;
        }
        const member = new HubLink(link, () => (counters.slowConsumers += 1));
        const checked = link.checksFrames === true;
        links.add(link);
        router.add(member);
        counters.hubbed += 1;
        link.start({
          onFrame(frame) {
            routingFrom = link;
            try {
              route(frame, member, checked);
            } catch (err) {
              counters.badFrames += 1;
              link.close(err as Error);
            } finally {
              routingFrom = undefined;
            }
          },
          onClose() {
            links.delete(link);
            router.remove(member);
          },
        });
        // First on the link, before anything is routed to it: who the hub's own member is (see
        // #newMemberRole). Nothing can be routed to it in between: routing runs on frames received.
        if (announcement !== undefined) link.send(announcement);
      },
      send(frame: Uint8Array): void {
        route(frame, self, false);
      },
      queuedBytes(): number {
        let total = 0;
        for (const link of links) total += link.queuedBytes ?? 0;
        return total;
      },
      async close(): Promise<void> {
        replay?.release();
        for (const link of links) link.close();
        await role.listener?.close();
      },
    };
    this.#router = router;
    return role;
  }

  #newMemberRole(link: FrameLink): Role {
    const frames = this.#frames;
    const role: Role = {
      isHub: false,
      send: (frame) => link.send(frame),
      sendInPlace: link.sendInPlace?.bind(link),
      queuedBytes: () => link.queuedBytes ?? 0,
      close: async () => link.close(),
    };
    // The link's identity is the hub's, first-hand from the OS; most frames on it were only
    // relayed by the hub from other members, whose identity this member cannot know. So it goes
    // only on frames whose origin is the hub's own member, as the hub announces first thing.
    let hubOrigin: number | undefined;
    let first = true;
    // Frames its decoder checked go to the bus with their topic: it then checks neither again.
    const checked = link.checksFrames === true;
    link.start({
      onFrame: (frame) => {
        if (first) {
          first = false;
          if (frame.length >= ENVELOPE_HEADER_SIZE && frame[3] === FrameKind.Hello && isAnnouncement(frame)) {
            hubOrigin = originOf(frame);
            return;
          }
        }
        const peer = hubOrigin !== undefined && originOf(frame) === hubOrigin ? link.peer : undefined;
        frames.next({ bytes: frame, peer, topic: checked ? checkedTopicOf(frame) : undefined });
      },
      onClose: () => this.#lost(role),
    });
    return role;
  }
}
