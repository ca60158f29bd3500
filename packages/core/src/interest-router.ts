/**
 * The routing brain of every hub: the hub of a pipe or TCP bus, and the in-process domain of the
 * memory transport. It reads only envelope headers (kind, origin, topic), never payloads.
 *
 * Interest is learned from the frames members send: `Subscribe`/`Unsubscribe` and
 * `Handle`/`Unhandle` carry a pattern in their topic.
 *
 * Members do not trust each other, so two things are not left to interest:
 *
 * - **Origins.** The first link to send a frame with an origin (a member id) owns it while it is
 *   attached; a frame from any other link in that member's name is dropped and that link is closed
 *   ({@link OriginInUseError}). Only the owner's `Leave` is forwarded, and when a link goes, `Leave`
 *   is sent for the origins it owned and no others. Otherwise any member could make all the others
 *   fail their requests to a third one (`PeerLostError`), or, by using thousands of origins and
 *   closing, make the hub broadcast a `Leave` per origin.
 * - **Inboxes.** A frame whose topic is an inbox (`_INBOX.<id>`: replies, acks, `NoResponders`,
 *   cancels for a handler, whatever the kind) goes to the link that owns origin `<id>` and to no
 *   other, by exact lookup: a subscription to `>` or `_INBOX.*`, or to someone else's inbox, never
 *   sees it. Interest in an inbox is therefore not needed, and for another member's inbox it is
 *   refused (counted in `foreignInbox`).
 *
 * @module
 */
import { checkEnvelopeHeader, encodeEnvelope, FrameFlags, FrameKind, peekFragment, peekRoute } from './envelope.js';
import { LinkLimitError, OriginInUseError } from './errors.js';
import { inboxTopic, isInbox } from './inbox.js';
import { TopicTrie } from './topic.js';

/**
 * Most origins (member ids) one link may speak for; past it the link is closed with
 * `LinkLimitError`. A bus sends every frame with its own member id and each bus has a link of its
 * own (the hub's own bus included), so one is the norm; nothing in busway relays other members'
 * frames through a link. Tools and tests that speak the wire format directly may use a few, hence
 * the slack. The bound matters because each origin costs a `Leave` to every link when its link
 * goes.
 */
export const MAX_ORIGINS_PER_LINK = 16;

/**
 * Most distinct interest patterns (subscriptions and handlers together) one link may hold; past it
 * the link is closed with `LinkLimitError`. Each costs hub memory and grows the trie that every
 * frame is matched against, so one member must not be able to add them without bound. A bus holds
 * one pattern per distinct subscription or handler (plus its inbox), far fewer in practice.
 */
export const MAX_PATTERNS_PER_LINK = 10_000;

/**
 * Most fragmented requests one link may have in flight through the router, each remembered with
 * the handler its fragments go to until the last of them passes. Past it the entry used least
 * recently is forgotten; the rest of that message's fragments then get a handler of their own,
 * which cannot reassemble it, so the request times out. On a hub's ordered links an entry lives
 * only while its message is being sent; one outlives it only when a fragment never comes (its
 * sender stopped midway on a link that stays open), and such stale entries are the ones least
 * recently used. The bound is per link so that one member cannot push out another's entries.
 * Each entry is a short string key and a small object: about 100 KiB per link at most.
 */
export const MAX_FRAGMENTED_REQUESTS_PER_LINK = 1024;

/** Something a router can hand frames to: a hub connection, or the hub's own member. */
export interface RouterLink {
  /** Hand one frame to the member(s) behind this link. Must not throw for a closed link. */
  deliver(frame: Uint8Array): void;
}

interface LinkState {
  readonly subscriptions: Map<string, number>;
  readonly handlers: Map<string, number>;
  /** Origins this link owns, each with its inbox topic. */
  readonly origins: Map<number, string>;
  /** An origin this link owns (the last one used), or 0: skips the ownership lookup for the next frames. */
  lastOrigin: number;
  /**
   * Fragmented requests from this link whose fragments have not all passed, by
   * `"<origin>:<sequence of fragment 0>"` (how the fragment fields identify a message), least
   * recently used first. Made on the link's first fragmented request.
   */
  fragmentedRequests: Map<string, FragmentedRequest<RouterLink>> | undefined;
}

/** Where the fragments of one request go. */
interface FragmentedRequest<L> {
  /** The handler chosen for the message, or undefined when it had none (NoResponders was sent). */
  readonly target: L | undefined;
  /** Fragments still to pass. */
  remaining: number;
}

/** Counters a router keeps, for `stats()`. */
export interface RouterStats {
  /** Frames forwarded to at least one link. */
  readonly routed: number;
  /** Frames no link was interested in. */
  readonly unrouted: number;
  /** Requests answered with `NoResponders`. */
  readonly noResponders: number;
  /**
   * Frames dropped because their link does not own their origin: in another link's name (that
   * link is then closed), or a `Leave` for a member the link does not speak for.
   */
  readonly spoofed: number;
  /** Interest frames for another member's inbox (or a pattern over inboxes), ignored. */
  readonly foreignInbox: number;
  /** Links currently attached. */
  readonly links: number;
}

/**
 * Forwards each frame to the links that have shown interest in its topic, and inbox frames to the
 * link of the inbox's member alone.
 *
 * @example
 * ```ts
 * const router = new InterestRouter<Connection>();
 * server.on('connection', (conn) => {
 *   router.add(conn);
 *   conn.onFrame = (frame) => {
 *     try { router.route(frame, conn); } catch { conn.destroy(); } // a bad frame closes one link
 *   };
 *   conn.onClose = () => router.remove(conn);
 * });
 * ```
 */
export class InterestRouter<L extends RouterLink> {
  private readonly links = new Map<L, LinkState>();
  private readonly subscriptions = new TopicTrie<L>();
  private readonly handlers = new TopicTrie<L>();
  /** Inbox topic of every owned origin → the link that owns it. */
  private readonly inboxOwners = new Map<string, L>();
  /** Round-robin position per request topic, so several handlers share the load. */
  private readonly nextHandler = new Map<string, number>();
  private counters = { routed: 0, unrouted: 0, noResponders: 0, spoofed: 0, foreignInbox: 0 };

  /** Attach a link. Frames are routed to it once it shows interest or owns an inbox. */
  add(link: L): void {
    if (!this.links.has(link)) {
      this.links.set(link, {
        subscriptions: new Map(),
        handlers: new Map(),
        origins: new Map(),
        lastOrigin: 0,
        fragmentedRequests: undefined,
      });
    }
  }

  /**
   * Route one frame that arrived from `from`.
   *
   * Throws, and the caller closes `from` (nothing else is affected): `FrameError` when the frame
   * is malformed, `OriginInUseError` when it is in the name of a member another link owns (the
   * frame is dropped), `LinkLimitError` when `from` goes past {@link MAX_ORIGINS_PER_LINK} or
   * {@link MAX_PATTERNS_PER_LINK}.
   */
  route(frame: Uint8Array, from: L): void {
    const state = this.links.get(from);
    if (state === undefined) return; // a frame racing its link's removal
    checkEnvelopeHeader(frame, frame.length);
    const { kind, origin, correlation, topic } = peekRoute(frame);
    if (kind === FrameKind.Leave) {
      this.routeLeave(frame, from, state, origin);
      return;
    }
    if (origin !== 0 && origin !== state.lastOrigin) this.claim(origin, from, state);
    switch (kind) {
      case FrameKind.Subscribe:
      case FrameKind.Unsubscribe:
      case FrameKind.Handle:
      case FrameKind.Unhandle:
        this.changeInterest(kind, topic, from, state);
        return;
      case FrameKind.Request:
        if ((frame[4] as number) & FrameFlags.Fragment)
          this.routeRequestFragment(frame, from, state, origin, correlation, topic);
        else this.routeRequest(frame, from, origin, correlation, topic);
        return;
      case FrameKind.Hello:
        this.forward(frame, from, this.links.keys());
        return;
      case FrameKind.Cancel:
        // A cancel for a request whose responder is not known yet goes to every handler of the
        // topic; one addressed to an inbox goes to that member alone.
        if (isInbox(topic)) this.toInbox(frame, from, topic);
        else this.forward(frame, from, this.handlers.match(topic));
        return;
      default:
        if (isInbox(topic)) this.toInbox(frame, from, topic);
        else this.forward(frame, from, this.subscriptions.match(topic));
    }
  }

  /**
   * Detach a link that closed. Its interest is dropped, and every other link is told, with a
   * `Leave` frame per member it owned, so requests waiting on those members fail at once.
   */
  remove(link: L): void {
    const state = this.links.get(link);
    if (state === undefined) return;
    this.links.delete(link);
    for (const pattern of state.subscriptions.keys()) this.subscriptions.remove(pattern, link);
    for (const pattern of state.handlers.keys()) this.handlers.remove(pattern, link);
    for (const [origin, inbox] of state.origins) {
      this.inboxOwners.delete(inbox);
      const leave = encodeEnvelope({ kind: FrameKind.Leave, origin, sequence: 0, topic: '_LEAVE' });
      for (const other of this.links.keys()) other.deliver(leave);
    }
  }

  /** Counters since the router was made. */
  stats(): RouterStats {
    // Field by field: `{ ...counters, links }` takes a slow path in V8 (about 2 µs a call).
    const c = this.counters;
    return {
      routed: c.routed,
      unrouted: c.unrouted,
      noResponders: c.noResponders,
      spoofed: c.spoofed,
      foreignInbox: c.foreignInbox,
      links: this.links.size,
    };
  }

  /**
   * Make `from` the owner of `origin`, or check that it is. Another link's origin throws.
   *
   * A member that reconnects (same member id, new link) before the hub has noticed that its old
   * link closed is refused the same way, and its new link closed: its bus reconnects and
   * announces its interest again on every reconnection, so once the old link's removal has
   * released the origin (and sent its `Leave`) the member is whole again. Dropping its frames but
   * keeping the new link would lose its `Subscribe`/`Handle` frames for good. Giving the origin to
   * the newer link instead would let any member take over another's inbox. On a local hub the old
   * link's close is seen before the new link's first frame in practice (it arrives first, and the
   * new link still has a handshake to do); across hosts a half-open old link lasts until TCP
   * keepalive or a write to it fails, and the member retries meanwhile.
   */
  private claim(origin: number, from: L, state: LinkState): void {
    if (!state.origins.has(origin)) {
      const inbox = inboxTopic(origin);
      const owner = this.inboxOwners.get(inbox);
      if (owner !== undefined) {
        this.counters.spoofed += 1;
        throw new OriginInUseError(origin);
      }
      if (state.origins.size >= MAX_ORIGINS_PER_LINK) throw new LinkLimitError('origins', MAX_ORIGINS_PER_LINK);
      this.inboxOwners.set(inbox, from);
      state.origins.set(origin, inbox);
    }
    state.lastOrigin = origin;
  }

  /** A member left: believed only from the link that owns it, which then releases it. */
  private routeLeave(frame: Uint8Array, from: L, state: LinkState, origin: number): void {
    const inbox = state.origins.get(origin);
    if (inbox === undefined) {
      // Forwarded, it would make every member fail its requests to `origin` (PeerLostError) and
      // forget its duplicate-suppression state.
      this.counters.spoofed += 1;
      if (origin !== 0 && this.inboxOwners.has(inboxTopic(origin))) throw new OriginInUseError(origin);
      return;
    }
    state.origins.delete(origin);
    this.inboxOwners.delete(inbox);
    if (state.lastOrigin === origin) state.lastOrigin = 0;
    this.forward(frame, from, this.links.keys());
  }

  /** An inbox frame: to the inbox's owner alone, never by pattern. */
  private toInbox(frame: Uint8Array, from: L, inbox: string): void {
    const owner = this.inboxOwners.get(inbox);
    if (owner !== undefined && owner !== from) {
      owner.deliver(frame);
      this.counters.routed += 1;
    } else {
      this.counters.unrouted += 1;
    }
  }

  private changeInterest(kind: FrameKind, pattern: string, link: L, state: LinkState): void {
    if (isInbox(pattern)) {
      // Inbox frames follow origin ownership, so a member's own inbox needs no interest (the bus
      // still announces it; that is harmless). Anyone else's, or a pattern over inboxes, would be
      // a way to read other members' replies: refused.
      if (this.inboxOwners.get(pattern) !== link) this.counters.foreignInbox += 1;
      return;
    }
    const subscription = kind === FrameKind.Subscribe || kind === FrameKind.Unsubscribe;
    const trie = subscription ? this.subscriptions : this.handlers;
    const counts = subscription ? state.subscriptions : state.handlers;
    const delta = kind === FrameKind.Subscribe || kind === FrameKind.Handle ? 1 : -1;
    const count = (counts.get(pattern) ?? 0) + delta;
    if (count > 0) {
      const added = delta > 0 && count === 1;
      if (added && state.subscriptions.size + state.handlers.size >= MAX_PATTERNS_PER_LINK) {
        throw new LinkLimitError('patterns', MAX_PATTERNS_PER_LINK);
      }
      counts.set(pattern, count);
      if (added) trie.add(pattern, link);
    } else if (counts.has(pattern)) {
      counts.delete(pattern);
      trie.remove(pattern, link);
    }
  }

  private routeRequest(frame: Uint8Array, from: L, origin: number, correlation: number, topic: string): void {
    const target = this.chooseHandler(from, topic);
    if (target === undefined) {
      this.noResponders(from, origin, correlation);
      return;
    }
    target.deliver(frame);
    this.counters.routed += 1;
  }

  /**
   * One fragment of a request. The handler is chosen once per message, by whichever of its
   * fragments comes first (fragment 0 on an ordered link; another if that one was lost or
   * overtaken), and the others follow it: a handler with only some of the fragments can never
   * reassemble the request.
   */
  private routeRequestFragment(
    frame: Uint8Array,
    from: L,
    state: LinkState,
    origin: number,
    correlation: number,
    topic: string,
  ): void {
    const { messageSequence, fragmentCount } = peekFragment(frame);
    const key = `${origin}:${messageSequence}`;
    const inFlight = (state.fragmentedRequests ??= new Map());
    let request = inFlight.get(key) as FragmentedRequest<L> | undefined;
    if (request === undefined) {
      const target = this.chooseHandler(from, topic);
      // Once per message, not per fragment: the requester fails its request on the first.
      if (target === undefined) this.noResponders(from, origin, correlation);
      request = { target, remaining: fragmentCount };
      while (inFlight.size >= MAX_FRAGMENTED_REQUESTS_PER_LINK) inFlight.delete(inFlight.keys().next().value as string);
    } else {
      inFlight.delete(key); // set again below, as the most recently used
    }
    request.remaining -= 1;
    if (request.remaining > 0) inFlight.set(key, request);
    const target = request.target;
    if (target === undefined) return; // no handler: the requester had its NoResponders
    if (!this.links.has(target)) {
      // The handler left midway; a new one could not reassemble the message either.
      this.counters.unrouted += 1;
      return;
    }
    target.deliver(frame);
    this.counters.routed += 1;
  }

  /** The handler for a request on `topic`: one of the links handling it other than `from`, in turn. */
  private chooseHandler(from: L, topic: string): L | undefined {
    const candidates: L[] = [];
    // Nobody handles an inbox (`Handle` for one is refused), and a `>` handler must not get it.
    if (!isInbox(topic)) for (const link of this.handlers.match(topic)) if (link !== from) candidates.push(link);
    if (candidates.length === 0) return undefined;
    // Turns are kept only where there is a choice: a lone handler (the common case) needs none.
    let chosen = 0;
    if (candidates.length > 1) {
      const turn = this.nextHandler.get(topic) ?? 0;
      if (this.nextHandler.size > 4096) this.nextHandler.clear();
      this.nextHandler.set(topic, turn + 1);
      chosen = turn % candidates.length;
    }
    return candidates[chosen];
  }

  private noResponders(requester: L, origin: number, correlation: number): void {
    // The requester's own member may handle the topic itself; it then ignores this answer.
    this.counters.noResponders += 1;
    requester.deliver(
      encodeEnvelope({
        kind: FrameKind.NoResponders,
        origin: 0,
        sequence: 0,
        correlation,
        topic: inboxTopic(origin),
      }),
    );
  }

  private forward(frame: Uint8Array, from: L, targets: Iterable<L>): void {
    let any = false;
    for (const link of targets) {
      if (link === from) continue;
      link.deliver(frame);
      any = true;
    }
    if (any) this.counters.routed += 1;
    else this.counters.unrouted += 1;
  }
}
