import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, FrameKind } from '../src/envelope.js';
import { FrameError, LinkLimitError, OriginInUseError } from '../src/errors.js';
import { inboxTopic, memberName } from '../src/inbox.js';
import { decodeRemoteError } from '../src/remote-error.js';
import {
  InterestRouter,
  MAX_FRAGMENTED_REQUESTS_PER_LINK,
  MAX_ORIGINS_PER_LINK,
  MAX_PATTERNS_PER_LINK,
  MAX_UNANSWERED_PER_LINK,
  type RouterLink,
} from '../src/interest-router.js';

/** A link that records the kind and topic of every frame delivered to it. */
class Recorder implements RouterLink {
  readonly got: Array<{ kind: number; topic: string; origin: number }> = [];
  /** Every frame as delivered, for tests that look past kind, topic and origin. */
  readonly frames: Uint8Array[] = [];
  deliver(frame: Uint8Array): void {
    const env = decodeEnvelope(frame);
    this.frames.push(frame);
    this.got.push({ kind: env.kind, topic: env.topic, origin: env.origin });
  }
}

let sequence = 0;
const frame = (kind: FrameKind, topic: string, origin = 1, correlation = 0): Uint8Array =>
  encodeEnvelope({ kind, topic, origin, sequence: ++sequence, correlation });

/**
 * The `count` fragments of one request from `origin`, as a bus sends them: consecutive sequences
 * from `first`, the same correlation.
 */
function requestFragments(
  topic: string,
  origin: number,
  correlation: number,
  first: number,
  count: number,
): Uint8Array[] {
  return Array.from({ length: count }, (_, index) =>
    encodeEnvelope({
      kind: FrameKind.Request,
      topic,
      origin,
      sequence: first + index,
      correlation,
      fragmentIndex: index,
      fragmentCount: count,
      payload: new Uint8Array([index]),
    }),
  );
}

function routerWith(n: number): { router: InterestRouter<Recorder>; links: Recorder[] } {
  const router = new InterestRouter<Recorder>();
  const links = Array.from({ length: n }, () => new Recorder());
  for (const link of links) router.add(link);
  return { router, links };
}

describe('InterestRouter', () => {
  it('forwards a publish only to the other links interested in its topic', () => {
    const { router, links } = routerWith(3);
    const [a, b, c] = links as [Recorder, Recorder, Recorder];
    router.route(frame(FrameKind.Subscribe, 'orders.*', 2), b);
    router.route(frame(FrameKind.Subscribe, 'orders.>', 1), a);
    router.route(frame(FrameKind.Publish, 'orders.created', 1), a);
    expect(b.got.map((f) => f.topic)).toEqual(['orders.created']);
    expect(a.got).toEqual([]); // never back to the sender
    expect(c.got).toEqual([]); // no interest
  });

  it('counts subscriptions per link: interest ends with the last unsubscribe', () => {
    const { router, links } = routerWith(2);
    const [a, b] = links as [Recorder, Recorder];
    router.route(frame(FrameKind.Subscribe, 'x', 2), b);
    router.route(frame(FrameKind.Subscribe, 'x', 2), b);
    router.route(frame(FrameKind.Unsubscribe, 'x', 2), b);
    router.route(frame(FrameKind.Publish, 'x'), a);
    router.route(frame(FrameKind.Unsubscribe, 'x', 2), b);
    router.route(frame(FrameKind.Publish, 'x'), a);
    expect(b.got.length).toBe(1);
  });

  it('sends each request to one handler, taking turns', () => {
    const { router, links } = routerWith(3);
    const [requester, h1, h2] = links as [Recorder, Recorder, Recorder];
    router.route(frame(FrameKind.Handle, 'svc.*', 2), h1);
    router.route(frame(FrameKind.Handle, 'svc.*', 3), h2);
    for (let i = 0; i < 4; i += 1) router.route(frame(FrameKind.Request, 'svc.q', 1, i + 1), requester);
    expect(h1.got.length).toBe(2);
    expect(h2.got.length).toBe(2);
  });

  it('answers a request nobody handles with NoResponders to the requester’s inbox', () => {
    const { router, links } = routerWith(2);
    const [requester] = links as [Recorder];
    router.route(frame(FrameKind.Request, 'nobody', 77, 5), requester);
    expect(requester.got).toEqual([{ kind: FrameKind.NoResponders, topic: inboxTopic(77), origin: 0 }]);
    expect(router.stats().noResponders).toBe(1);
  });

  it('never hands a request back to the link it came from, even when that link is its only handler', () => {
    const { router, links } = routerWith(2);
    const [handler, other] = links as [Recorder, Recorder];
    router.route(frame(FrameKind.Handle, 'svc', 7), handler);
    // The handler's own link asks: its member serves itself locally, the hub has nobody else.
    router.route(frame(FrameKind.Request, 'svc', 7, 5), handler);
    expect(handler.got).toEqual([{ kind: FrameKind.NoResponders, topic: inboxTopic(7), origin: 0 }]);
    // Another link asking gets the lone handler.
    router.route(frame(FrameKind.Request, 'svc', 8, 6), other);
    expect(handler.got.map((f) => f.kind)).toEqual([FrameKind.NoResponders, FrameKind.Request]);
  });

  it('routes replies to the requester alone', () => {
    const { router, links } = routerWith(3);
    const [requester, handler, bystander] = links as [Recorder, Recorder, Recorder];
    router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), requester);
    router.route(frame(FrameKind.Subscribe, inboxTopic(3), 3), bystander);
    router.route(frame(FrameKind.Reply, inboxTopic(1), 2, 9), handler);
    expect(requester.got.map((f) => f.kind)).toEqual([FrameKind.Reply]);
    expect(bystander.got).toEqual([]);
  });

  it('tells the remaining links, with Leave, which members were behind a removed link', () => {
    const { router, links } = routerWith(2);
    const [a, b] = links as [Recorder, Recorder];
    router.route(frame(FrameKind.Subscribe, 'x', 41), b);
    router.route(frame(FrameKind.Subscribe, 'y', 42), b);
    router.remove(b);
    expect(a.got.map((f) => [f.kind, f.origin]).sort()).toEqual([
      [FrameKind.Leave, 41],
      [FrameKind.Leave, 42],
    ]);
    router.route(frame(FrameKind.Publish, 'x'), a);
    expect(b.got).toEqual([]); // its interest went with it
    expect(router.stats().links).toBe(1);
  });

  it('throws FrameError for a malformed frame and keeps routing for others', () => {
    const { router, links } = routerWith(2);
    const [a, b] = links as [Recorder, Recorder];
    router.route(frame(FrameKind.Subscribe, 'x', 2), b);
    const garbage = frame(FrameKind.Publish, 'x');
    garbage[0] = 0;
    expect(() => router.route(garbage, a)).toThrow(FrameError);
    router.route(frame(FrameKind.Publish, 'x'), a);
    expect(b.got.length).toBe(1);
  });

  describe('inboxes', () => {
    /** Kinds a member may send to an inbox; none of them may reach anyone but its owner. */
    const inboxKinds = [
      FrameKind.Reply,
      FrameKind.ReplyEnd,
      FrameKind.ReplyError,
      FrameKind.Ack,
      // Not NoResponders: only the router says that (see "what speaks in the router’s name").
      FrameKind.Cancel,
      FrameKind.Publish,
    ];

    it('delivers every kind of inbox frame to its owner only, never to wildcard subscribers or handlers', () => {
      const { router, links } = routerWith(3);
      const [requester, handler, spy] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), requester);
      router.route(frame(FrameKind.Handle, 'svc', 2), handler);
      for (const pattern of ['>', '*.*', '_INBOX.*', '_INBOX.>']) {
        router.route(frame(FrameKind.Subscribe, pattern, 3), spy);
        router.route(frame(FrameKind.Handle, pattern, 3), spy);
      }
      for (const kind of inboxKinds) router.route(frame(kind, inboxTopic(1), 2, 9), handler);
      // The requester cancels: addressed to the handler's inbox.
      router.route(frame(FrameKind.Cancel, inboxTopic(2), 1, 9), requester);
      expect(requester.got.map((f) => f.kind)).toEqual(inboxKinds);
      expect(handler.got.map((f) => [f.kind, f.topic])).toEqual([[FrameKind.Cancel, inboxTopic(2)]]);
      expect(spy.got).toEqual([]);
      // Patterns over inboxes were refused (two kinds × two patterns); `>` and `*.*` still work.
      expect(router.stats().foreignInbox).toBe(4);
      router.route(frame(FrameKind.Publish, 'a.b', 1), requester);
      expect(spy.got.map((f) => f.topic)).toEqual(['a.b']); // once per link, through `>` and `*.*`
    });

    it('answers a request to an inbox with NoResponders, even when somebody handles `>`', () => {
      const { router, links } = routerWith(3);
      const [requester, owner, wildcard] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, inboxTopic(2), 2), owner);
      router.route(frame(FrameKind.Handle, '>', 3), wildcard);
      router.route(frame(FrameKind.Request, inboxTopic(2), 1, 4), requester);
      expect(wildcard.got).toEqual([]);
      expect(requester.got).toEqual([{ kind: FrameKind.NoResponders, topic: inboxTopic(1), origin: 0 }]);
    });

    it('ignores, and counts, a Subscribe to another member’s inbox', () => {
      const { router, links } = routerWith(3);
      const [requester, handler, thief] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), requester);
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 3), thief);
      router.route(frame(FrameKind.Reply, inboxTopic(1), 2, 9), handler);
      expect(thief.got).toEqual([]);
      expect(requester.got.map((f) => f.kind)).toEqual([FrameKind.Reply]);
      expect(router.stats().foreignInbox).toBe(1);
    });

    it('needs no Subscribe: an inbox belongs to the link that owns its origin', () => {
      const { router, links } = routerWith(2);
      const [a, b] = links as [Recorder, Recorder];
      router.route(frame(FrameKind.Publish, 'anything', 1), a);
      router.route(frame(FrameKind.Ack, inboxTopic(1), 2, 3), b);
      expect(a.got.map((f) => f.kind)).toEqual([FrameKind.Ack]);
      expect(router.stats().foreignInbox).toBe(0);
    });
  });

  describe('origins', () => {
    it('drops, counts and refuses (OriginInUseError) a frame in the name of another link’s member', () => {
      const { router, links } = routerWith(3);
      const [a, liar, c] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, 'x', 3), c);
      router.route(frame(FrameKind.Publish, 'x', 1), a); // a now owns origin 1
      for (const kind of [FrameKind.Publish, FrameKind.Subscribe, FrameKind.Handle, FrameKind.Hello]) {
        expect(() => router.route(frame(kind, 'x', 1), liar)).toThrow(OriginInUseError);
      }
      expect(router.stats().spoofed).toBe(4);
      expect(c.got.map((f) => f.origin)).toEqual([1]); // a's publish only
      // Its Subscribe and Handle were not taken either.
      router.route(frame(FrameKind.Publish, 'x', 3), c);
      router.route(frame(FrameKind.Request, 'x', 3, 1), c);
      expect(liar.got).toEqual([]);
      // Nor did it get a's inbox.
      router.route(frame(FrameKind.Reply, inboxTopic(1), 3, 1), c);
      expect(a.got.map((f) => f.kind)).toEqual([FrameKind.Reply]);
    });

    it('forwards a Leave only from the link that owns its member, which releases it', () => {
      const { router, links } = routerWith(3);
      const [a, liar, c] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), a);
      router.route(frame(FrameKind.Subscribe, inboxTopic(2), 2), liar);
      const leave = (origin: number) => frame(FrameKind.Leave, '_LEAVE', origin);
      expect(() => router.route(leave(1), liar)).toThrow(OriginInUseError);
      router.route(leave(99), liar); // a member nobody owns: dropped, the link may stay
      router.route(leave(0), liar);
      expect(router.stats().spoofed).toBe(3);
      expect([...a.got, ...c.got]).toEqual([]);
      router.route(leave(1), a);
      expect(c.got.map((f) => [f.kind, f.origin])).toEqual([[FrameKind.Leave, 1]]);
      expect(liar.got.map((f) => [f.kind, f.origin])).toEqual([[FrameKind.Leave, 1]]);
      // Released: another link may now be member 1, and gets its inbox.
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), c);
      router.route(frame(FrameKind.Reply, inboxTopic(1), 2, 1), liar);
      expect(c.got.map((f) => f.kind)).toEqual([FrameKind.Leave, FrameKind.Reply]);
    });

    it('drops and counts what speaks in the router’s name: origin 0, NoResponders', () => {
      const { router, links } = routerWith(3);
      const [requester, handler, liar] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), requester);
      router.route(frame(FrameKind.Handle, 'svc', 2), handler);
      router.route(frame(FrameKind.Subscribe, 'news', 2), handler);
      router.route(frame(FrameKind.Request, 'svc', 1, 5), requester);
      expect(handler.got.map((f) => f.kind)).toEqual([FrameKind.Request]);
      // A forged PEER_LOST, the Leave that would make the requester take it, a NoResponders in
      // the liar's own name and a publish from origin 0: none reaches anyone, and the liar's link
      // stays (they are dropped as a Leave for a member nobody owns is).
      router.route(frame(FrameKind.Leave, '_LEAVE', 0), liar);
      router.route(frame(FrameKind.ReplyError, inboxTopic(1), 0, 5), liar);
      router.route(frame(FrameKind.NoResponders, inboxTopic(1), 3, 5), liar);
      router.route(frame(FrameKind.Publish, 'news', 0), liar);
      expect(router.stats().spoofed).toBe(4);
      expect(requester.got).toEqual([]);
      expect(handler.got.map((f) => f.kind)).toEqual([FrameKind.Request]);
      // The handler's real answer still goes through, and the router's own NoResponders too.
      router.route(frame(FrameKind.Reply, inboxTopic(1), 2, 5), handler);
      router.route(frame(FrameKind.Request, 'nobody', 1, 6), requester);
      expect(requester.got.map((f) => [f.kind, f.origin])).toEqual([
        [FrameKind.Reply, 2],
        [FrameKind.NoResponders, 0],
      ]);
    });

    it('sends Leave on removal only for the members the link owned', () => {
      const { router, links } = routerWith(3);
      const [a, b, liar] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), a);
      router.route(frame(FrameKind.Subscribe, inboxTopic(2), 2), b);
      router.route(frame(FrameKind.Subscribe, 'x', 3), liar);
      expect(() => router.route(frame(FrameKind.Subscribe, 'y', 2), liar)).toThrow(OriginInUseError);
      router.route(frame(FrameKind.Leave, '_LEAVE', 4), liar);
      router.remove(liar);
      expect(a.got.map((f) => [f.kind, f.origin])).toEqual([[FrameKind.Leave, 3]]);
      expect(b.got.map((f) => [f.kind, f.origin])).toEqual([[FrameKind.Leave, 3]]);
    });

    it('lets a member that reconnects on a new link in only once its old link is removed', () => {
      const { router, links } = routerWith(3);
      const [old, fresh, peer] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), old);
      expect(() => router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), fresh)).toThrow(OriginInUseError);
      router.remove(old);
      router.route(frame(FrameKind.Subscribe, inboxTopic(1), 1), fresh);
      router.route(frame(FrameKind.Reply, inboxTopic(1), 2, 1), peer);
      expect(fresh.got.map((f) => [f.kind, f.origin])).toEqual([
        [FrameKind.Leave, 1], // the old link's, sent when it was removed
        [FrameKind.Reply, 2],
      ]);
    });
  });

  describe('fragmented requests', () => {
    /** The fragment indexes of the requests `handler` received, by correlation. */
    function received(handler: Recorder): Map<number, number[]> {
      const byRequest = new Map<number, number[]>();
      for (const f of handler.frames.map((bytes) => decodeEnvelope(bytes))) {
        if (f.kind !== FrameKind.Request) continue;
        byRequest.set(f.correlation, [...(byRequest.get(f.correlation) ?? []), f.fragmentIndex]);
      }
      return byRequest;
    }

    it('sends every fragment of a request to the handler chosen for its first, taking turns per request', () => {
      const { router, links } = routerWith(3);
      const [requester, h1, h2] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'svc', 2), h1);
      router.route(frame(FrameKind.Handle, 'svc', 3), h2);
      for (let i = 0; i < 4; i += 1) {
        for (const f of requestFragments('svc', 1, i + 1, 100 + 10 * i, 3)) router.route(f, requester);
      }
      const one = received(h1);
      const two = received(h2);
      expect([...one.keys(), ...two.keys()].sort()).toEqual([1, 2, 3, 4]); // each request to one handler
      for (const indexes of [...one.values(), ...two.values()]) expect(indexes).toEqual([0, 1, 2]);
      expect(one.size).toBe(2); // and they still share the load
      expect(router.stats()).toMatchObject({ routed: 12, unrouted: 0, noResponders: 0 });
    });

    it('keeps a request whose fragments arrive out of order, or interleaved with another, together', () => {
      const { router, links } = routerWith(3);
      const [requester, h1, h2] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'svc', 2), h1);
      router.route(frame(FrameKind.Handle, 'svc', 3), h2);
      const [a0, a1, a2] = requestFragments('svc', 1, 1, 100, 3) as [Uint8Array, Uint8Array, Uint8Array];
      const [b0, b1, b2] = requestFragments('svc', 1, 2, 200, 3) as [Uint8Array, Uint8Array, Uint8Array];
      for (const f of [a2, a0, b1, a1, b0, b2]) router.route(f, requester);
      const one = received(h1);
      const two = received(h2);
      expect(one.size + two.size).toBe(2);
      for (const indexes of [...one.values(), ...two.values()]) expect(indexes.sort()).toEqual([0, 1, 2]);
    });

    it('forgets a request once its last fragment passed', () => {
      const { router, links } = routerWith(3);
      const [requester, h1, h2] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'svc', 2), h1);
      router.route(frame(FrameKind.Handle, 'svc', 3), h2);
      const fragments = requestFragments('svc', 1, 1, 100, 2);
      for (const f of fragments) router.route(f, requester);
      // The same identity again is a new message (a sequence reused after a wrap): a new turn,
      // which it would not get if the first one were still remembered.
      for (const f of fragments) router.route(f, requester);
      expect(received(h1).get(1)).toEqual([0, 1]);
      expect(received(h2).get(1)).toEqual([0, 1]);
    });

    it('tells the requester NoResponders once per fragmented request, not once per fragment', () => {
      const { router, links } = routerWith(2);
      const [requester] = links as [Recorder];
      for (const f of requestFragments('nobody', 77, 5, 100, 4)) router.route(f, requester);
      for (const f of requestFragments(inboxTopic(2), 77, 6, 200, 3)) router.route(f, requester);
      expect(requester.got).toEqual([
        { kind: FrameKind.NoResponders, topic: inboxTopic(77), origin: 0 },
        { kind: FrameKind.NoResponders, topic: inboxTopic(77), origin: 0 },
      ]);
      expect(router.stats().noResponders).toBe(2);
    });

    it(`remembers at most ${MAX_FRAGMENTED_REQUESTS_PER_LINK} unfinished requests per link, the least recently used forgotten`, () => {
      const { router, links } = routerWith(4);
      const [requester, h1, h2, other] = links as [Recorder, Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'svc', 2), h1);
      const started = Array.from({ length: MAX_FRAGMENTED_REQUESTS_PER_LINK + 1 }, (_, i) =>
        requestFragments('svc', 1, i + 1, 1000 + 10 * i, 3),
      );
      const fragment = (request: number, index: number): Uint8Array =>
        (started[request] as Uint8Array[])[index] as Uint8Array;
      for (let i = 0; i < MAX_FRAGMENTED_REQUESTS_PER_LINK; i += 1) router.route(fragment(i, 0), requester);
      router.route(fragment(0, 1), requester); // request 1 is now the least recently used
      // Another link's requests do not count against this one's.
      for (let i = 0; i < MAX_FRAGMENTED_REQUESTS_PER_LINK; i += 1) {
        router.route(requestFragments('svc', 9, i + 1, 5000 + 10 * i, 2)[0] as Uint8Array, other);
      }
      router.route(fragment(MAX_FRAGMENTED_REQUESTS_PER_LINK, 0), requester); // pushes request 1 out
      // h1 goes and h2 takes over: a remembered request stays with h1 (its fragments are dropped:
      // h2 could not reassemble it); a forgotten one is a new choice.
      router.route(frame(FrameKind.Handle, 'svc', 3), h2);
      router.remove(h1);
      router.route(fragment(0, 2), requester);
      router.route(fragment(1, 1), requester);
      router.route(fragment(2, 1), requester);
      router.route(fragment(MAX_FRAGMENTED_REQUESTS_PER_LINK, 1), requester);
      expect(received(h2)).toEqual(new Map([[2, [1]]]));
    });
  });

  describe('requests whose handler goes before answering', () => {
    /** The requests the router told `link` failed: correlation, error code and message, in order. */
    function failures(link: Recorder): Array<[number, string, string]> {
      return link.frames
        .map((bytes) => decodeEnvelope(bytes))
        .filter((f) => f.kind === FrameKind.ReplyError && f.origin === 0)
        .map((f) => {
          const error = decodeRemoteError(f.payload);
          return [f.correlation, error.code, error.message];
        });
    }

    /**
     * Three links: a requester (member 1) whose request `correlation` on `svc` was handed to a
     * handler (member 2), and a third member (3), subscribed to `x`.
     */
    function handedOut(correlation: number): {
      router: InterestRouter<Recorder>;
      requester: Recorder;
      handler: Recorder;
      third: Recorder;
    } {
      const { router, links } = routerWith(3);
      const [requester, handler, third] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Subscribe, 'x', 3), third);
      router.route(frame(FrameKind.Handle, 'svc', 2), handler);
      router.route(frame(FrameKind.Request, 'svc', 1, correlation), requester);
      return { router, requester, handler, third };
    }

    it('fails the request at once with PeerLostError, from origin 0 after a Leave of origin 0', () => {
      const { router, requester, handler, third: bystander } = handedOut(7);
      router.remove(handler);
      expect(requester.got).toEqual([
        { kind: FrameKind.Leave, topic: '_LEAVE', origin: 2 }, // the handler's member
        { kind: FrameKind.Leave, topic: '_LEAVE', origin: 0 }, // forget origin 0's sequences
        { kind: FrameKind.ReplyError, topic: inboxTopic(1), origin: 0 },
      ]);
      expect(decodeEnvelope(requester.frames[2] as Uint8Array).sequence).toBe(1);
      expect(failures(requester)).toEqual([[7, 'PEER_LOST', expect.stringContaining(`member ${memberName(2)} `)]]);
      expect(decodeRemoteError(decodeEnvelope(requester.frames[2] as Uint8Array).payload).name).toBe('PeerLostError');
      expect(bystander.got.map((f) => f.kind)).toEqual([FrameKind.Leave]);
      expect(router.stats().peerLost).toBe(1);
    });

    it('fails only the requests that were neither answered nor cancelled', () => {
      const { router, links } = routerWith(4);
      const [requester, handler, other, gone] = links as [Recorder, Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'svc', 2), handler);
      for (let c = 1; c <= 9; c += 1) router.route(frame(FrameKind.Request, 'svc', 1, c), requester);
      router.route(frame(FrameKind.Handle, 'svc', 3), other);
      router.route(frame(FrameKind.Request, 'svc', 4, 1), gone); // to handler (its turn)
      router.route(frame(FrameKind.Request, 'svc', 1, 10), requester); // to other
      router.route(frame(FrameKind.Ack, inboxTopic(1), 2, 1), handler);
      router.route(frame(FrameKind.Reply, inboxTopic(1), 2, 2), handler);
      router.route(frame(FrameKind.ReplyEnd, inboxTopic(1), 2, 3), handler);
      router.route(frame(FrameKind.ReplyError, inboxTopic(1), 2, 4), handler);
      router.route(frame(FrameKind.Cancel, 'svc', 1, 5), requester); // before any answer
      router.route(frame(FrameKind.Cancel, inboxTopic(2), 1, 6), requester);
      router.route(frame(FrameKind.Ack, inboxTopic(1), 3, 7), other); // another handler's answer
      router.route(frame(FrameKind.Publish, inboxTopic(1), 2, 8), handler); // not an answer
      router.remove(gone);
      router.remove(handler);
      expect(failures(requester).map(([correlation]) => correlation)).toEqual([7, 8, 9]);
      expect(router.stats().peerLost).toBe(3); // and none for the requester that left
    });

    it('keeps track through one, several, none and one again unanswered requests per requester', () => {
      const { router, links } = routerWith(3);
      const [first, second, handler] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'svc', 2), handler);
      const ask = (from: Recorder, origin: number, c: number): void =>
        router.route(frame(FrameKind.Request, 'svc', origin, c), from);
      const answer = (origin: number, c: number): void =>
        router.route(frame(FrameKind.Reply, inboxTopic(origin), 2, c), handler);
      ask(first, 1, 1);
      answer(1, 1); // none left
      ask(first, 1, 2); // one
      ask(first, 1, 2); // the same request again (a duplicate frame): still one
      ask(first, 1, 3);
      ask(first, 1, 4); // several
      answer(1, 4);
      answer(1, 3);
      answer(1, 9); // never asked: changes nothing
      ask(first, 1, 5);
      answer(1, 5);
      ask(first, 1, 6); // 2 and 6
      ask(second, 7, 1);
      answer(7, 1); // none
      ask(second, 7, 2); // one again
      answer(7, 99); // another id: not this one
      router.remove(handler);
      expect(failures(first).map(([correlation]) => correlation)).toEqual([2, 6]);
      expect(failures(second).map(([correlation]) => correlation)).toEqual([2]);
      expect(router.stats().peerLost).toBe(3);
    });

    it('takes the first answer to a request only from the link it was handed to', () => {
      const { router, requester, handler, third: liar } = handedOut(5);
      // Every kind of answer, from a member that was not handed the request: dropped, counted, and
      // the request is still owed by the handler.
      for (const kind of [FrameKind.Ack, FrameKind.Reply, FrameKind.ReplyEnd, FrameKind.ReplyError]) {
        router.route(frame(kind, inboxTopic(1), 3, 5), liar);
      }
      expect(requester.got).toEqual([]);
      expect(router.stats().spoofed).toBe(4);
      // Another request of the same requester is no business of the liar's either; answers to
      // requests nobody was handed pass (the requester ignores what it did not ask).
      router.route(frame(FrameKind.Reply, inboxTopic(1), 3, 6), liar);
      expect(requester.got.map((f) => [f.kind, f.origin])).toEqual([[FrameKind.Reply, 3]]);
      // The handler's answers all pass: the first settles the request, the rest follow it.
      router.route(frame(FrameKind.Ack, inboxTopic(1), 2, 5), handler);
      router.route(frame(FrameKind.Reply, inboxTopic(1), 2, 5), handler);
      router.route(frame(FrameKind.ReplyEnd, inboxTopic(1), 2, 5), handler);
      expect(requester.got.slice(1).map((f) => [f.kind, f.origin])).toEqual([
        [FrameKind.Ack, 2],
        [FrameKind.Reply, 2],
        [FrameKind.ReplyEnd, 2],
      ]);
      // A forgery before the handler answered did not settle the request: its going fails it.
      router.route(frame(FrameKind.Request, 'svc', 1, 7), requester);
      router.route(frame(FrameKind.Ack, inboxTopic(1), 3, 7), liar);
      router.remove(handler);
      expect(failures(requester).map(([correlation]) => correlation)).toEqual([7]);
    });

    it('fails a fragmented request once', () => {
      const { router, links } = routerWith(2);
      const [requester, handler] = links as [Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'svc', 2), handler);
      for (const f of requestFragments('svc', 1, 5, 100, 3)) router.route(f, requester);
      router.remove(handler);
      expect(failures(requester).map(([correlation]) => correlation)).toEqual([5]);
    });

    it(`remembers at most ${MAX_UNANSWERED_PER_LINK} unanswered requests per link`, () => {
      const { router, links } = routerWith(3);
      const [requester, handler, other] = links as [Recorder, Recorder, Recorder];
      router.route(frame(FrameKind.Handle, 'a', 2), handler);
      router.route(frame(FrameKind.Handle, 'b', 3), other);
      for (let c = 1; c <= MAX_UNANSWERED_PER_LINK + 10; c += 1) {
        router.route(frame(FrameKind.Request, 'a', 1, c), requester);
      }
      router.route(frame(FrameKind.Ack, inboxTopic(1), 2, 1), handler); // room for one more
      router.route(frame(FrameKind.Request, 'a', 1, 1_000_000), requester);
      router.route(frame(FrameKind.Request, 'b', 1, 1), requester); // the bound is per link
      router.remove(handler);
      router.remove(other);
      const failed = failures(requester).map(([correlation]) => correlation);
      expect(failed).toHaveLength(MAX_UNANSWERED_PER_LINK + 1);
      expect(failed.slice(-2)).toEqual([1_000_000, 1]);
      expect(failed).not.toContain(MAX_UNANSWERED_PER_LINK + 1);
    });
  });

  describe('per-link limits', () => {
    it(`closes a link (LinkLimitError) that uses more than ${MAX_ORIGINS_PER_LINK} origins`, () => {
      const { router, links } = routerWith(2);
      const [a, b] = links as [Recorder, Recorder];
      for (let i = 1; i <= MAX_ORIGINS_PER_LINK; i += 1) router.route(frame(FrameKind.Unsubscribe, 'x', 100 + i), a);
      router.route(frame(FrameKind.Unsubscribe, 'x', 101), a); // an origin it already owns
      const past = (): void => router.route(frame(FrameKind.Unsubscribe, 'x', 1000), a);
      expect(past).toThrow(LinkLimitError);
      expect(past).toThrow(expect.objectContaining({ code: 'LINK_LIMIT', what: 'origins' }));
      router.route(frame(FrameKind.Unsubscribe, 'x', 1000), b); // not owned by a: free for others
      router.remove(a);
      expect(b.got).toHaveLength(MAX_ORIGINS_PER_LINK); // one Leave per owned origin
    });

    it(`closes a link (LinkLimitError) that holds more than ${MAX_PATTERNS_PER_LINK} patterns`, () => {
      const { router, links } = routerWith(2);
      const [a, b] = links as [Recorder, Recorder];
      const half = MAX_PATTERNS_PER_LINK / 2;
      for (let i = 0; i < half; i += 1) {
        router.route(frame(FrameKind.Subscribe, `s.${i}`, 1), a);
        router.route(frame(FrameKind.Handle, `h.${i}`, 1), a);
      }
      // At the limit: more of a pattern it holds, and dropping one to take another, are fine.
      router.route(frame(FrameKind.Subscribe, 's.0', 1), a);
      router.route(frame(FrameKind.Unhandle, 'h.0', 1), a);
      router.route(frame(FrameKind.Handle, 'h.new', 1), a);
      expect(() => router.route(frame(FrameKind.Subscribe, 'one.more', 1), a)).toThrow(
        expect.objectContaining({ code: 'LINK_LIMIT', what: 'patterns' }),
      );
      expect(() => router.route(frame(FrameKind.Handle, 'one.more', 1), a)).toThrow(LinkLimitError);
      router.route(frame(FrameKind.Subscribe, 'one.more', 2), b); // the limit is per link
      router.route(frame(FrameKind.Publish, 's.1', 2), b);
      expect(a.got).toHaveLength(1);
    });
  });
});
