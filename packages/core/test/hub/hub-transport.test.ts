import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_HEADER_SIZE, FrameKind } from '../../src/envelope.js';
import { BufferFullError, ClosedError, ConnectionLostError, FrameTooLargeError } from '../../src/errors.js';
import {
  AddressInUseError,
  type FrameLink,
  type FrameLinkSink,
  type HubEndpoint,
  HubTransport,
  type HubTransportOptions,
} from '../../src/hub/index.js';
import type { ConnectionState, InboundFrame } from '../../src/transport.js';
import { MemoryHubNetwork } from './memory-hub-endpoint.js';
import { Bus, resolveBusOptions } from '../../src/bus.js';
import { msgpackCodec } from '../../src/codec.js';
import { fragmentEnvelope } from '../../src/fragmenter.js';
import type { Message } from '../../src/message.js';

let seq = 0;
const frame = (kind: FrameKind, origin: number, topic: string, text = ''): Uint8Array =>
  encodeEnvelope({ kind, origin, sequence: ++seq, topic, payload: new TextEncoder().encode(text) });
const text = (f: InboundFrame): string => new TextDecoder().decode(decodeEnvelope(f.bytes).payload);
const nextFrame = (t: HubTransport, topic: string): Promise<InboundFrame> =>
  firstValueFrom(t.frames$.pipe(filter((f) => decodeEnvelope(f.bytes).topic === topic)));
const waitState = (t: HubTransport, state: ConnectionState): Promise<ConnectionState> =>
  firstValueFrom(t.state$.pipe(filter((s) => s === state)));

const open: HubTransport[] = [];
function member(net: MemoryHubNetwork, options: HubTransportOptions = {}, maxFrameSize = 1 << 20): HubTransport {
  const t = new HubTransport(net.endpoint('bus'), { maxFrameSize }, options);
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('HubTransport', () => {
  it('makes the first member the hub and routes by interest both ways', async () => {
    const net = new MemoryHubNetwork();
    const a = member(net);
    const b = member(net);
    await a.open();
    await b.open();
    expect([a.isHub, b.isHub]).toEqual([true, false]);

    b.send(frame(FrameKind.Subscribe, 2, 'orders.*'));
    await new Promise((r) => setTimeout(r, 5));
    const atB = nextFrame(b, 'orders.created');
    a.send(frame(FrameKind.Publish, 1, 'orders.created', 'from hub'));
    expect(text(await atB)).toBe('from hub');

    a.send(frame(FrameKind.Subscribe, 1, 'prices.>'));
    const atA = nextFrame(a, 'prices.eu.a');
    b.send(frame(FrameKind.Publish, 2, 'prices.eu.a', 'from member'));
    const fromMember = await atA;
    expect(text(fromMember)).toBe('from member');
    expect(fromMember.peer).toEqual({ address: 'memory' }); // the hub's member learns who handed it in
  });

  it('does not forward frames nobody is interested in', async () => {
    const net = new MemoryHubNetwork();
    const a = member(net);
    const b = member(net);
    await a.open();
    await b.open();
    const got: InboundFrame[] = [];
    b.frames$.subscribe((f) => got.push(f));
    a.send(frame(FrameKind.Publish, 1, 'nobody.listens'));
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toHaveLength(0);
    expect(a.stats()['unrouted']).toBe(1);
  });

  it('answers a request nobody handles with NoResponders', async () => {
    const net = new MemoryHubNetwork();
    const a = member(net);
    const b = member(net);
    await a.open();
    await b.open();
    const answer = firstValueFrom(b.frames$);
    b.send(encodeEnvelope({ kind: FrameKind.Request, origin: 2, sequence: 1, correlation: 42, topic: 'price.quote' }));
    const env = decodeEnvelope((await answer).bytes);
    expect(env.kind).toBe(FrameKind.NoResponders);
    expect(env.correlation).toBe(42);
  });

  it('closes a link that sends a malformed frame and keeps serving the others', async () => {
    const net = new MemoryHubNetwork();
    const a = member(net);
    const bad = member(net);
    const good = member(net);
    await a.open();
    await bad.open();
    await good.open();
    good.send(frame(FrameKind.Subscribe, 3, 'x'));
    const badState = waitState(bad, 'reconnecting');
    bad.send(new Uint8Array(60).fill(7));
    expect(await badState).toBe('reconnecting');
    expect(a.stats()['badFrames']).toBe(1);
    const atGood = nextFrame(good, 'x');
    a.send(frame(FrameKind.Publish, 1, 'x', 'still here'));
    expect(text(await atGood)).toBe('still here');
  });

  it("hands the hub's own bus the topic it routed by, and the bus still checks everything else", async () => {
    // The router checks each frame's header and reads its topic, and passes the topic on so that
    // the hub's own bus does not do either again: what the bus still must catch, it does.
    const net = new MemoryHubNetwork();
    const hubTransport = member(net);
    const bus = new Bus(hubTransport, 1, resolveBusOptions({}));
    await bus.open();
    const inbound: InboundFrame[] = [];
    hubTransport.frames$.subscribe((f) => inbound.push(f));
    const seen: Message[] = [];
    bus.subscribe('in.>').subscribe((m) => seen.push(m));
    const other = member(net);
    await other.open();
    await new Promise((r) => setTimeout(r, 5));
    const publish = (sequence: number, topic: string, data: unknown, headers?: Record<string, string>): Uint8Array =>
      encodeEnvelope({
        kind: FrameKind.Publish,
        origin: 2,
        sequence,
        topic,
        encoding: 1,
        headers,
        payload: msgpackCodec.encode(data),
      });
    other.send(publish(1, 'in.a', 'plain'));
    other.send(publish(2, 'in.b', 'with headers', { traceparent: '00-1-2-01' }));
    const badHeaders = publish(3, 'in.c', 'bad headers', { k: 'v' });
    badHeaders[badHeaders.length - msgpackCodec.encode('bad headers').length - 1] = 0xff; // the value "v"
    other.send(badHeaders);
    const big = new Uint8Array(5000).map((_, i) => i & 0xff);
    let sequence = 4;
    const fragments = fragmentEnvelope(
      {
        kind: FrameKind.Publish,
        origin: 2,
        sequence: 4,
        topic: 'in.d',
        encoding: 1,
        payload: msgpackCodec.encode(big),
      },
      1024,
      () => ++sequence,
    );
    for (const f of fragments) other.send(f);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((m) => m.topic)).toEqual(['in.a', 'in.b', 'in.d']);
    expect(seen[2]?.data).toEqual(big);
    expect({ ...seen[1]?.headers }).toEqual({ traceparent: '00-1-2-01' });
    expect(seen[0]?.sender).toMatchObject({ address: 'memory', member: (2).toString(36) });
    expect(bus.stats().badFrames).toBe(1);
    expect(inbound.map((f) => f.topic)).toEqual(['in.a', 'in.b', 'in.c', ...fragments.map(() => 'in.d')]);

    // A malformed frame never reaches the bus: the router rejects it and closes its link.
    const closed = waitState(other, 'reconnecting');
    const badMagic = publish(sequence + 1, 'in.e', 'bad magic');
    badMagic[0] = 0;
    other.send(badMagic);
    await closed;
    expect(hubTransport.stats()['badFrames']).toBe(1);
    expect(bus.stats().badFrames).toBe(1);
    expect(seen).toHaveLength(3);
    await bus.close();
  });

  it('a member hands its bus the topic of each frame its link checked, and the bus still checks the rest', async () => {
    let sink: FrameLinkSink | undefined;
    const link: FrameLink = {
      peer: { pid: 42 },
      checksFrames: true,
      start: (s) => (sink = s),
      send: () => undefined,
      close: () => undefined,
    };
    const endpoint: HubEndpoint = {
      description: 'fake',
      listen: () => Promise.reject(new AddressInUseError('fake')),
      connect: () => Promise.resolve(link),
    };
    const transport = new HubTransport(endpoint, { maxFrameSize: 1 << 20, memberId: 1 });
    open.push(transport);
    const bus = new Bus(transport, 1, resolveBusOptions({}));
    await bus.open();
    const inbound: InboundFrame[] = [];
    transport.frames$.subscribe((f) => inbound.push(f));
    const seen: Message[] = [];
    bus.subscribe('in.>').subscribe((m) => seen.push(m));
    const deliver = (f: Uint8Array): void => sink?.onFrame(f);
    deliver(encodeEnvelope({ kind: FrameKind.Hello, origin: 9, sequence: 0, topic: '_HUB' }));
    const publish = (origin: number, sequence: number, topic: string, headers?: Record<string, string>): Uint8Array =>
      encodeEnvelope({
        kind: FrameKind.Publish,
        origin,
        sequence,
        topic,
        encoding: 1,
        headers,
        payload: msgpackCodec.encode(topic),
      });
    deliver(publish(9, 1, 'in.hub'));
    deliver(publish(2, 1, 'in.other', { k: 'v' }));
    const badTopic = publish(2, 2, 'in.bad');
    badTopic[ENVELOPE_HEADER_SIZE + 3] = 0xff; // valid header, topic not UTF-8
    deliver(badTopic);
    const badHeaders = publish(2, 3, 'in.h', { k: 'v' });
    badHeaders[ENVELOPE_HEADER_SIZE + 4 + 2 + 2 + 1 + 2] = 0xff; // the value "v"
    deliver(badHeaders);
    deliver(publish(2, 1, 'in.other')); // a duplicate
    expect(seen.map((m) => [m.topic, m.data, { ...m.sender }])).toEqual([
      ['in.hub', 'in.hub', { pid: 42, member: (9).toString(36) }],
      ['in.other', 'in.other', { member: (2).toString(36) }],
    ]);
    expect({ ...seen[1]?.headers }).toEqual({ k: 'v' });
    expect(inbound.map((f) => f.topic)).toEqual(['in.hub', 'in.other', undefined, 'in.h', 'in.other']);
    expect(bus.stats().badFrames).toBe(2);
    await bus.close();
  });

  it('takes over when the hub dies: members go reconnecting, one becomes hub, all are open again', async () => {
    const net = new MemoryHubNetwork();
    const hub = member(net);
    const b = member(net, { takeoverTimeout: 200 });
    const c = member(net, { takeoverTimeout: 200 });
    await hub.open();
    await b.open();
    await c.open();
    const bStates = b.state$.pipe(take(3), toArray());
    const bStatesDone = firstValueFrom(bStates);
    const started = Date.now();
    net.crash('bus');
    await Promise.all([
      firstValueFrom(b.state$.pipe(filter((s) => s === 'reconnecting'))).then(() => waitState(b, 'open')),
      firstValueFrom(c.state$.pipe(filter((s) => s === 'reconnecting'))).then(() => waitState(c, 'open')),
    ]);
    expect(Date.now() - started).toBeLessThan(200);
    expect(await bStatesDone).toEqual(['open', 'reconnecting', 'open']);
    expect([b.isHub, c.isHub].filter(Boolean)).toHaveLength(1);
    expect(b.stats()['takeovers']! + c.stats()['takeovers']!).toBe(1);

    // The new domain routes: interest re-sent after 'open' (the bus does this) works.
    c.send(frame(FrameKind.Subscribe, 3, 'after'));
    await new Promise((r) => setTimeout(r, 5));
    const atC = nextFrame(c, 'after');
    b.send(frame(FrameKind.Publish, 2, 'after', 'takeover done'));
    expect(text(await atC)).toBe('takeover done');
  });

  it.each([
    { replay: 1000, delivered: true },
    { replay: 0, delivered: false },
  ])(
    'after a takeover, offers early publishes to members that subscribe late (replay $replay ms)',
    async ({ replay, delivered }) => {
      const net = new MemoryHubNetwork();
      const old = member(net);
      const next = member(net, { takeoverReplay: replay, reconnect: { initialDelay: 0, maxDelay: 1, jitter: 0 } });
      const late = member(net, { canBeHub: false, reconnect: { initialDelay: 60, maxDelay: 60, jitter: 0 } });
      await old.open();
      await next.open();
      await late.open();
      const nextOpen = firstValueFrom(next.state$.pipe(filter((s) => s === 'reconnecting'))).then(() =>
        waitState(next, 'open'),
      );
      net.crash('bus');
      await nextOpen;
      expect(next.isHub).toBe(true);
      // Published at once by the new hub: `late` is still reconnecting and has announced nothing yet.
      next.send(frame(FrameKind.Publish, 2, 'late.x', 'early bird'));
      await waitState(late, 'open');
      const got: InboundFrame[] = [];
      late.frames$.subscribe((f) => got.push(f));
      late.send(frame(FrameKind.Subscribe, 3, 'late.>')); // what the bus re-sends on 'open'
      await new Promise((r) => setTimeout(r, 20));
      expect(got.map(text)).toEqual(delivered ? ['early bird'] : []);
      expect(next.stats()['replayed']).toBe(delivered ? 1 : 0);
    },
  );

  it('buffers frames while reconnecting, flushes them in order, and rejects past the bound', async () => {
    const net = new MemoryHubNetwork();
    const hub = member(net);
    const listener = member(net);
    const sender = member(net, { canBeHub: false, bufferLimit: 1000, reconnect: { initialDelay: 5, maxDelay: 10 } });
    await hub.open();
    await listener.open();
    await sender.open();
    const reconnecting = waitState(sender, 'reconnecting');
    net.crash('bus');
    await reconnecting;
    // `listener` has become the hub by now or soon; `sender` cannot be hub, so it must buffer.
    const sent: Uint8Array[] = [];
    let rejected: unknown;
    for (let i = 0; i < 100; i += 1) {
      const f = frame(FrameKind.Publish, 9, 'buffered', `m${i}`);
      try {
        sender.send(f);
        sent.push(f);
      } catch (err) {
        rejected = err;
        break;
      }
    }
    expect(rejected).toBeInstanceOf(BufferFullError);
    expect((rejected as BufferFullError).code).toBe('BUFFER_FULL');
    expect(sent.length).toBeGreaterThan(5);
    expect(sender.stats()['bufferedBytes']).toBeLessThanOrEqual(1000);
    expect(sender.stats()['bufferRejected']).toBe(1);

    // The flush happens before 'open' is announced, so subscribe first on the new hub's side.
    await waitState(listener, 'open');
    listener.send(frame(FrameKind.Subscribe, 8, 'buffered'));
    const received = firstValueFrom(listener.frames$.pipe(take(sent.length), toArray()));
    await waitState(sender, 'open');
    expect((await received).map(text)).toEqual(sent.map((f) => new TextDecoder().decode(decodeEnvelope(f).payload)));
    expect(sender.stats()['bufferedBytes']).toBe(0);
  });

  it('sendInPlace: a member writes into its link, the hub and a reconnecting member into frames of their own', async () => {
    const net = new MemoryHubNetwork();
    const hub = member(net);
    const listener = member(net);
    const sender = member(net, { canBeHub: false, reconnect: { initialDelay: 5, maxDelay: 10 } });
    await hub.open();
    await listener.open();
    await sender.open();
    const writerOf = (f: Uint8Array) => ({ writeFrame: (target: Uint8Array, at: number) => target.set(f, at) });
    const inPlaceSends = (): number =>
      [...(net.listeners.get('bus')?.links ?? [])].reduce((n, l) => n + l.other.inPlaceSends, 0);
    listener.send(frame(FrameKind.Subscribe, 8, 'in.place'));
    await new Promise((r) => setTimeout(r, 5));
    const fromMember = frame(FrameKind.Publish, 9, 'in.place', 'member');
    const fromHub = frame(FrameKind.Publish, 1, 'in.place', 'hub');
    const got = firstValueFrom(listener.frames$.pipe(take(2), toArray()));
    sender.sendInPlace(fromMember.length, writerOf(fromMember));
    hub.sendInPlace(fromHub.length, writerOf(fromHub));
    expect((await got).map(text).sort()).toEqual(['hub', 'member']);
    expect(inPlaceSends()).toBe(1); // the member's, through its link; the hub routed its own frame

    // Reconnecting: buffered like send, and flushed in order once a hub is back.
    const reconnecting = waitState(sender, 'reconnecting');
    net.crash('bus');
    await reconnecting;
    const buffered = frame(FrameKind.Publish, 9, 'in.place', 'buffered');
    sender.sendInPlace(buffered.length, writerOf(buffered));
    expect(sender.stats()['bufferedFrames']).toBe(1);
    await waitState(listener, 'open');
    listener.send(frame(FrameKind.Subscribe, 8, 'in.place'));
    const later = nextFrame(listener, 'in.place');
    await waitState(sender, 'open');
    expect(text(await later)).toBe('buffered');

    // The errors of send, before the writer is called.
    const writeFrame = (): void => {
      throw new Error('the writer must not be called');
    };
    expect(() => sender.sendInPlace((1 << 20) + 1, { writeFrame })).toThrow(FrameTooLargeError);
    await sender.close();
    expect(() => sender.sendInPlace(fromMember.length, { writeFrame })).toThrow(ClosedError);
  });

  it('rejects open() after openTimeout when it can neither be hub nor reach one', async () => {
    const net = new MemoryHubNetwork();
    const lone = member(net, { canBeHub: false, openTimeout: 50, reconnect: { initialDelay: 5, maxDelay: 10 } });
    await expect(lone.open()).rejects.toBeInstanceOf(ConnectionLostError);
    expect(net.connectAttempts).toBeGreaterThan(2);
  });

  it('refuses oversized frames and anything after close', async () => {
    const net = new MemoryHubNetwork();
    const a = member(net, {}, 100);
    await a.open();
    expect(() => a.send(new Uint8Array(101))).toThrow(FrameTooLargeError);
    await a.close();
    expect(() => a.send(frame(FrameKind.Publish, 1, 'x'))).toThrow(ClosedError);
    await expect(a.open()).rejects.toBeInstanceOf(ClosedError);
    expect(await firstValueFrom(a.state$.pipe(toArray()))).toEqual(['closed']);
  });

  it('frees the address on close so the next member can be hub', async () => {
    const net = new MemoryHubNetwork();
    const a = member(net);
    await a.open();
    await a.close();
    const b = member(net);
    await b.open();
    expect(b.isHub).toBe(true);
  });
});
