import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, FrameKind } from '../src/envelope.js';
import { FrameError } from '../src/errors.js';
import { inboxTopic } from '../src/inbox.js';
import { InterestRouter, type RouterLink } from '../src/interest-router.js';

/** A link that records the kind and topic of every frame delivered to it. */
class Recorder implements RouterLink {
  readonly got: Array<{ kind: number; topic: string; origin: number }> = [];
  deliver(frame: Uint8Array): void {
    const env = decodeEnvelope(frame);
    this.got.push({ kind: env.kind, topic: env.topic, origin: env.origin });
  }
}

let sequence = 0;
const frame = (kind: FrameKind, topic: string, origin = 1, correlation = 0): Uint8Array =>
  encodeEnvelope({ kind, topic, origin, sequence: ++sequence, correlation });

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

  it('routes replies through inbox interest to the requester alone', () => {
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
});
