/**
 * The routing brain of every hub: the hub of a pipe or TCP bus, and the in-process domain of the
 * memory transport. It reads only envelope headers (kind, origin, topic), never payloads.
 *
 * Interest is learned from the frames members send: `Subscribe`/`Unsubscribe` and
 * `Handle`/`Unhandle` carry a pattern in their topic. Each member subscribes to its own inbox
 * (`_INBOX.<id>`), so replies, acks and cancels addressed to an inbox reach that member alone with
 * no special case here.
 *
 * @module
 */
import { checkEnvelopeHeader, encodeEnvelope, FrameKind, peekRoute } from './envelope.js';
import { inboxTopic, isInbox } from './inbox.js';
import { TopicTrie } from './topic.js';

/** Something a router can hand frames to: a hub connection, or the hub's own member. */
export interface RouterLink {
  /** Hand one frame to the member(s) behind this link. Must not throw for a closed link. */
  deliver(frame: Uint8Array): void;
}

interface LinkState {
  readonly subscriptions: Map<string, number>;
  readonly handlers: Map<string, number>;
  readonly origins: Set<number>;
}

/** Counters a router keeps, for `stats()`. */
export interface RouterStats {
  /** Frames forwarded to at least one link. */
  readonly routed: number;
  /** Frames no link was interested in. */
  readonly unrouted: number;
  /** Requests answered with `NoResponders`. */
  readonly noResponders: number;
  /** Links currently attached. */
  readonly links: number;
}

/**
 * Forwards each frame to the links that have shown interest in its topic.
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
  /** Round-robin position per request topic, so several handlers share the load. */
  private readonly nextHandler = new Map<string, number>();
  private counters = { routed: 0, unrouted: 0, noResponders: 0 };

  /** Attach a link. Frames are routed to it once it shows interest. */
  add(link: L): void {
    if (!this.links.has(link)) {
      this.links.set(link, { subscriptions: new Map(), handlers: new Map(), origins: new Set() });
    }
  }

  /**
   * Route one frame that arrived from `from`.
   *
   * Throws `FrameError` when the frame is malformed: the caller closes `from`, and nothing else is
   * affected.
   */
  route(frame: Uint8Array, from: L): void {
    const state = this.links.get(from);
    if (state === undefined) return; // a frame racing its link's removal
    checkEnvelopeHeader(frame, frame.length);
    const { kind, origin, correlation, topic } = peekRoute(frame);
    if (origin !== 0) state.origins.add(origin);
    switch (kind) {
      case FrameKind.Subscribe:
        this.changeInterest(this.subscriptions, state.subscriptions, topic, from, +1);
        return;
      case FrameKind.Unsubscribe:
        this.changeInterest(this.subscriptions, state.subscriptions, topic, from, -1);
        return;
      case FrameKind.Handle:
        this.changeInterest(this.handlers, state.handlers, topic, from, +1);
        return;
      case FrameKind.Unhandle:
        this.changeInterest(this.handlers, state.handlers, topic, from, -1);
        return;
      case FrameKind.Request:
        this.routeRequest(frame, from, origin, correlation, topic);
        return;
      case FrameKind.Cancel:
        // A cancel for a request whose responder is not known yet goes to every handler of the
        // topic; one addressed to an inbox goes to that member alone.
        this.forward(frame, from, isInbox(topic) ? this.subscriptions.match(topic) : this.handlers.match(topic));
        return;
      case FrameKind.Hello:
      case FrameKind.Leave:
        if (kind === FrameKind.Leave) state.origins.delete(origin);
        this.forward(frame, from, this.links.keys());
        return;
      default:
        this.forward(frame, from, this.subscriptions.match(topic));
    }
  }

  /**
   * Detach a link that closed. Its interest is dropped, and every other link is told, with a
   * `Leave` frame per member seen through it, so requests waiting on those members fail at once.
   */
  remove(link: L): void {
    const state = this.links.get(link);
    if (state === undefined) return;
    this.links.delete(link);
    for (const pattern of state.subscriptions.keys()) this.subscriptions.remove(pattern, link);
    for (const pattern of state.handlers.keys()) this.handlers.remove(pattern, link);
    for (const origin of state.origins) {
      const leave = encodeEnvelope({ kind: FrameKind.Leave, origin, sequence: 0, topic: '_LEAVE' });
      for (const other of this.links.keys()) other.deliver(leave);
    }
  }

  /** Counters since the router was made. */
  stats(): RouterStats {
    // Field by field: `{ ...counters, links }` takes a slow path in V8 (about 2 µs a call).
    const c = this.counters;
    return { routed: c.routed, unrouted: c.unrouted, noResponders: c.noResponders, links: this.links.size };
  }

  private changeInterest(
    trie: TopicTrie<L>,
    counts: Map<string, number>,
    pattern: string,
    link: L,
    delta: 1 | -1,
  ): void {
    const count = (counts.get(pattern) ?? 0) + delta;
    if (count > 0) {
      counts.set(pattern, count);
      if (delta > 0 && count === 1) trie.add(pattern, link);
    } else if (counts.has(pattern)) {
      counts.delete(pattern);
      trie.remove(pattern, link);
    }
  }

  private routeRequest(frame: Uint8Array, from: L, origin: number, correlation: number, topic: string): void {
    const candidates: L[] = [];
    for (const link of this.handlers.match(topic)) if (link !== from) candidates.push(link);
    if (candidates.length === 0) {
      // The requester's own member may handle the topic itself; it then ignores this answer.
      this.counters.noResponders += 1;
      from.deliver(
        encodeEnvelope({
          kind: FrameKind.NoResponders,
          origin: 0,
          sequence: 0,
          correlation,
          topic: inboxTopic(origin),
        }),
      );
      return;
    }
    // Turns are kept only where there is a choice: a lone handler (the common case) needs none.
    let chosen = 0;
    if (candidates.length > 1) {
      const turn = this.nextHandler.get(topic) ?? 0;
      if (this.nextHandler.size > 4096) this.nextHandler.clear();
      this.nextHandler.set(topic, turn + 1);
      chosen = turn % candidates.length;
    }
    (candidates[chosen] as L).deliver(frame);
    this.counters.routed += 1;
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
