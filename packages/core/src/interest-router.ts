/**
 * The routing brain of every hub: the hub of a pipe or TCP bus, and the in-process domain of the
 * memory transport. It reads only envelope headers (kind, origin, topic), never payloads.
 *
 * Interest is learned from the frames members send: `Subscribe`/`Unsubscribe` and
 * `Handle`/`Unhandle` carry a pattern in their topic.
 *
 * Members do not trust each other, so these are not left to interest:
 *
 * - **Origins.** The first link to send a frame with an origin (a member id) owns it while it is
 *   attached; a frame from any other link in that member's name is dropped and that link is closed
 *   ({@link OriginInUseError}). Only the owner's `Leave` is forwarded, and when a link goes, `Leave`
 *   is sent for the origins it owned and no others. Otherwise any member could make all the others
 *   fail their requests to a third one (`PeerLostError`), or, by using thousands of origins and
 *   closing, make the hub broadcast a `Leave` per origin.
 * - **The router's own voice.** Origin 0 is the router's (it fails requests whose handler went,
 *   with a `PeerLostError` from origin 0), and so is `NoResponders`: a link's frame that uses
 *   either is dropped and counted in `spoofed`, or any member could fail another's requests.
 * - **Requests in flight.** A handler's member acknowledges a request only after its handler
 *   returns, and until then its requester does not know who is serving it, so it could not tell
 *   that the member died. The router knows where it sent each request: when a link goes before
 *   answering one, the requester gets a `ReplyError` (a `PeerLostError`, code `PEER_LOST`) at once
 *   instead of waiting out its timeout. And the first answer to it (a reply, an ack, an error) is
 *   taken from that link alone: another member's is dropped and counted in `spoofed`, so none can
 *   answer a request it was not handed. From the first answer on, the requester takes answers
 *   from the member that gave it and no other.
 * - **Inboxes.** A frame whose topic is an inbox (`_INBOX.<id>`: replies, acks, `NoResponders`,
 *   cancels for a handler, whatever the kind) goes to the link that owns origin `<id>` and to no
 *   other, by exact lookup: a subscription to `>` or `_INBOX.*`, or to someone else's inbox, never
 *   sees it. Interest in an inbox is therefore not needed, and for another member's inbox it is
 *   refused (counted in `foreignInbox`).
 *
 * @module
 */
import {
  checkEnvelopeHeader,
  encodeEnvelope,
  FrameFlags,
  FrameKind,
  peekCorrelation,
  peekFragment,
  peekOrigin,
  peekTopic,
} from './envelope.js';
import { AwaitedAnswers } from './awaited-answers.js';
import { LinkLimitError, OriginInUseError, PeerLostError } from './errors.js';
import { inboxTopic, isInbox, memberName } from './inbox.js';
import { encodeRemoteError } from './remote-error.js';
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

/**
 * Most requests handed to one link that the router remembers as not yet answered, so that it can
 * fail them if the link goes. An entry lives from the hub routing a request until the handler's
 * first answer or ack passes back (one round trip and a turn of its event loop) or the requester
 * cancels, so only a burst of more than this many requests to one handler within that time, or a
 * handler that stops answering altogether, reaches it. Past it further requests to that link are
 * not remembered: if it goes, they wait for their timeout as before, and their first answer is
 * taken from any link. About 100 bytes an entry at most, so some 400 KiB per link.
 */
export const MAX_UNANSWERED_PER_LINK = 4096;

/** Something a router can hand frames to: a hub connection, or the hub's own member. */
export interface RouterLink {
  /**
   * Hand one frame to the member(s) behind this link. Must not throw for a closed link. `topic` is
   * given for a frame the router has checked and read the topic of (every frame it routes, as
   * opposed to those it makes), so that a receiver need not decode it again.
   */
  deliver(frame: Uint8Array, topic?: string): void;
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
  /** Requests handed to this link that it has not answered yet (entries in `awaited`). */
  awaiting: number;
  /** The first origin this link used, or 0: the member named when requests it had are failed. */
  member: number;
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
   * link is then closed), a `Leave` for a member the link does not speak for, or in the router's
   * own name (origin 0, or a `NoResponders`, which only a router sends); and first answers to a
   * request from a link it was not handed to.
   */
  readonly spoofed: number;
  /** Interest frames for another member's inbox (or a pattern over inboxes), ignored. */
  readonly foreignInbox: number;
  /** Requests failed (`PeerLostError`) because the link they were handed to went before answering. */
  readonly peerLost: number;
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
  /** Requests handed to a link and not answered yet, with the link that owes the answer. */
  private readonly awaited = new AwaitedAnswers<L>();
  /** Round-robin position per request topic, so several handlers share the load. */
  private readonly nextHandler = new Map<string, number>();
  private counters = { routed: 0, unrouted: 0, noResponders: 0, spoofed: 0, foreignInbox: 0, peerLost: 0 };

  /** Attach a link. Frames are routed to it once it shows interest or owns an inbox. */
  add(link: L): void {
    if (!this.links.has(link)) {
      this.links.set(link, {
        subscriptions: new Map(),
        handlers: new Map(),
        origins: new Map(),
        lastOrigin: 0,
        fragmentedRequests: undefined,
        awaiting: 0,
        member: 0,
      });
    }
  }

  /**
   * Route one frame that arrived from `from`.
   *
   * Throws, and the caller closes `from` (nothing else is affected): `FrameError` when the frame
   * is malformed, `OriginInUseError` when it is in the name of a member another link owns (the
   * frame is dropped), `LinkLimitError` when `from` goes past {@link MAX_ORIGINS_PER_LINK} or
   * {@link MAX_PATTERNS_PER_LINK}. `checked`: the frame has passed `checkEnvelopeHeader` already
   * (it came out of a `FrameDecoder`), so it is not checked again.
   */
  route(frame: Uint8Array, from: L, checked = false): void {
    const state = this.links.get(from);
    if (state === undefined) return; // a frame racing its link's removal
    if (!checked) checkEnvelopeHeader(frame, frame.length);
    // Field by field rather than peekRoute's object: this runs for every frame a hub routes.
    const kind = frame[3] as FrameKind;
    const origin = peekOrigin(frame);
    const correlation = peekCorrelation(frame);
    const topic = peekTopic(frame);
    if (origin === 0 || kind === FrameKind.NoResponders) {
      // The router's own voice: origin 0 (a `PeerLostError`, the `Leave` before it) and
      // `NoResponders`. From a link it would let any member fail another's requests at will.
      this.counters.spoofed += 1;
      return;
    }
    if (kind === FrameKind.Leave) {
      this.routeLeave(frame, from, state, origin, topic);
      return;
    }
    if (origin !== state.lastOrigin) this.claim(origin, from, state); // never 0: dropped above
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
        else this.routeRequest(frame, from, state, origin, correlation, topic);
        return;
      case FrameKind.Hello:
        this.forward(frame, from, this.links.keys(), topic);
        return;
      case FrameKind.Cancel:
        // A cancel for a request whose responder is not known yet goes to every handler of the
        // topic; one addressed to an inbox goes to that member alone.
        if (isInbox(topic)) {
          const owner = this.inboxOwners.get(topic);
          if (owner !== undefined) this.cancelled(owner, state, origin, correlation);
          this.toInbox(frame, from, topic);
        } else {
          const handlers = this.handlers.match(topic);
          for (const handler of handlers) this.cancelled(handler, state, origin, correlation);
          this.forward(frame, from, handlers, topic);
        }
        return;
      case FrameKind.Reply:
      case FrameKind.ReplyEnd:
      case FrameKind.ReplyError:
      case FrameKind.Ack:
        if (isInbox(topic)) {
          // The first answer to a request the router handed out is taken from the link it was
          // handed to, and no other. After it the requester knows its responder: it fails its
          // request itself if that member leaves, and takes further answers from it alone.
          const owing = this.awaited.settle(topic, correlation, from);
          if (owing === from) state.awaiting -= 1;
          else if (owing !== undefined) {
            this.counters.spoofed += 1;
            return;
          }
          this.toInbox(frame, from, topic);
        } else {
          this.forward(frame, from, this.subscriptions.match(topic), topic);
        }
        return;
      default:
        if (isInbox(topic)) this.toInbox(frame, from, topic);
        else this.forward(frame, from, this.subscriptions.match(topic), topic);
    }
  }

  /**
   * Detach a link that closed. Its interest is dropped, and every other link is told, with a
   * `Leave` frame per member it owned, so requests waiting on those members fail at once. Requests
   * handed to it and not answered yet are failed too, see {@link InterestRouter.failUnanswered}.
   */
  remove(link: L): void {
    const state = this.links.get(link);
    if (state === undefined) return;
    this.links.delete(link);
    for (const pattern of state.subscriptions.keys()) this.subscriptions.remove(pattern, link);
    for (const pattern of state.handlers.keys()) this.handlers.remove(pattern, link);
    for (const [origin, inbox] of state.origins) {
      this.inboxOwners.delete(inbox);
      this.forgetRequests(inbox);
      const leave = encodeEnvelope({ kind: FrameKind.Leave, origin, sequence: 0, topic: '_LEAVE' });
      for (const other of this.links.keys()) other.deliver(leave);
    }
    if (state.awaiting > 0) this.failUnanswered(link, state.member);
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
      peerLost: c.peerLost,
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
      if (state.member === 0) state.member = origin;
    }
    state.lastOrigin = origin;
  }

  /** A member left: believed only from the link that owns it, which then releases it. */
  private routeLeave(frame: Uint8Array, from: L, state: LinkState, origin: number, topic: string): void {
    const inbox = state.origins.get(origin);
    if (inbox === undefined) {
      // Forwarded, it would make every member fail its requests to `origin` (PeerLostError) and
      // forget its duplicate-suppression state.
      this.counters.spoofed += 1;
      if (this.inboxOwners.has(inboxTopic(origin))) throw new OriginInUseError(origin);
      return;
    }
    state.origins.delete(origin);
    this.inboxOwners.delete(inbox);
    this.forgetRequests(inbox);
    if (state.lastOrigin === origin) state.lastOrigin = 0;
    this.forward(frame, from, this.links.keys(), topic);
  }

  /** An inbox frame: to the inbox's owner alone, never by pattern. */
  private toInbox(frame: Uint8Array, from: L, inbox: string): void {
    const owner = this.inboxOwners.get(inbox);
    if (owner !== undefined && owner !== from) {
      owner.deliver(frame, inbox);
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

  private routeRequest(
    frame: Uint8Array,
    from: L,
    state: LinkState,
    origin: number,
    correlation: number,
    topic: string,
  ): void {
    const target = this.chooseHandler(from, topic);
    if (target === undefined) {
      this.noResponders(from, origin, correlation);
      return;
    }
    this.awaitAnswer(target, state, origin, correlation);
    target.deliver(frame, topic);
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
      else this.awaitAnswer(target, state, origin, correlation);
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
    target.deliver(frame, topic);
    this.counters.routed += 1;
  }

  /** Remember that `target` was handed a request from `origin` (a member of `requester`). */
  private awaitAnswer(target: L, requester: LinkState, origin: number, correlation: number): void {
    const inbox = requester.origins.get(origin);
    if (inbox === undefined) return; // never: `route` claimed the origin before routing the request
    const state = this.links.get(target) as LinkState; // a handler is always attached
    if (state.awaiting >= MAX_UNANSWERED_PER_LINK) return;
    const before = this.awaited.add(inbox, correlation, target);
    if (before === target) return; // the same request again (a duplicate frame)
    state.awaiting += 1;
    if (before !== undefined) (this.links.get(before) as LinkState).awaiting -= 1;
  }

  /** The requester in `requester` no longer waits for `handler` to answer this request. */
  private cancelled(handler: L, requester: LinkState, origin: number, correlation: number): void {
    const inbox = requester.origins.get(origin);
    if (inbox === undefined) return;
    if (this.awaited.settle(inbox, correlation, handler) === handler) {
      (this.links.get(handler) as LinkState).awaiting -= 1;
    }
  }

  /** The member of `inbox` left: nobody owes it an answer any more. */
  private forgetRequests(inbox: string): void {
    for (const owing of this.awaited.forgetInbox(inbox)) {
      const state = this.links.get(owing);
      if (state !== undefined) state.awaiting -= 1;
    }
  }

  /**
   * A link went with requests it had not answered: each requester still attached gets a
   * `ReplyError` from origin 0 carrying a `PeerLostError` (code `PEER_LOST`) that names the
   * link's member, so its request fails now rather than at its timeout (or never, without one).
   *
   * `ReplyError` is a sequenced kind, and the router has no sequence of its own that a member's
   * duplicate suppression would accept across hubs (a member keeps its window for origin 0 when
   * it fails over to another hub, whose counter starts again). So each one is preceded by a
   * `Leave` for origin 0, which makes the member forget that window, and carries sequence 1. No
   * member has origin 0, so that `Leave` fails nothing else.
   */
  private failUnanswered(link: L, member: number): void {
    const payload = encodeRemoteError(new PeerLostError(memberName(member)));
    const forget = encodeEnvelope({ kind: FrameKind.Leave, origin: 0, sequence: 0, topic: '_LEAVE' });
    for (const [inbox, correlation] of this.awaited.takeOwedBy(link)) {
      const requester = this.inboxOwners.get(inbox);
      // Never: a requester's entries go with it (forgetRequests). Kept so that a slip cannot throw here.
      if (requester === undefined) continue;
      requester.deliver(forget);
      requester.deliver(
        encodeEnvelope({ kind: FrameKind.ReplyError, origin: 0, sequence: 1, correlation, topic: inbox, payload }),
      );
      this.counters.peerLost += 1;
    }
  }

  /** The handler for a request on `topic`: one of the links handling it other than `from`, in turn. */
  private chooseHandler(from: L, topic: string): L | undefined {
    // Nobody handles an inbox (`Handle` for one is refused), and a `>` handler must not get it.
    if (isInbox(topic)) return undefined;
    const handlers = this.handlers.match(topic);
    if (handlers.size === 1) {
      // A lone handler, the common case: no candidate list to build, no turn to keep.
      const [only] = handlers;
      return only === from ? undefined : only;
    }
    const candidates: L[] = [];
    for (const link of handlers) if (link !== from) candidates.push(link);
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

  private forward(frame: Uint8Array, from: L, targets: Iterable<L>, topic: string): void {
    let any = false;
    for (const link of targets) {
      if (link === from) continue;
      link.deliver(frame, topic);
      any = true;
    }
    if (any) this.counters.routed += 1;
    else this.counters.unrouted += 1;
  }
}
