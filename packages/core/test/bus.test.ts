import { firstValueFrom, interval, lastValueFrom, map, Observable, take, takeWhile, toArray } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Bus,
  type BusOptions,
  BufferFullError,
  ClosedError,
  ConfigurationError,
  createBus,
  FrameKind,
  FrameTooLargeError,
  jsonCodec,
  LinkLimitError,
  MemoryTransport,
  msgpackCodec,
  registerTransport,
  type Message,
  NoRespondersError,
  PeerLostError,
  type FrameWriter,
  type Transport,
  rawCodec,
  TimeoutError,
  TopicError,
  TransportNotFoundError,
} from '../src/index.js';
import { FaultInjectingTransport } from '../src/testing/index.js';
import { encodeEnvelope, ENVELOPE_HEADER_SIZE } from '../src/envelope.js';
import { encodeRemoteError } from '../src/remote-error.js';

let counter = 0;
const buses: Bus[] = [];
/** A fresh memory domain per test so tests never see each other's members. */
function url(query = ''): string {
  counter += 1;
  return `memory://bus-test-${counter}${query}`;
}
async function join(target: string | BusOptions): Promise<Bus> {
  const bus = await createBus(target);
  buses.push(bus);
  return bus;
}
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

/** Resolves with the first `count` messages of a subscription. */
function collect<T>(source: Observable<Message<T>>, count: number): Promise<Message<T>[]> {
  return lastValueFrom(source.pipe(take(count), toArray()));
}

/**
 * Registers a scheme whose transports record the kind (byte 3) of every frame they send into
 * `kinds`, then hand it to a memory transport on the domain of `memoryUrl`. `capabilities`
 * overrides what the memory transport reports (for example `broadcast: 'native'`).
 */
function spying(
  memoryUrl: string,
  capabilities?: Partial<Transport['capabilities']>,
): { url: string; kinds: number[] } {
  counter += 1;
  const scheme = `spy-bus-test-${counter}`;
  const kinds: number[] = [];
  registerTransport(
    scheme,
    (_u, ctx) =>
      new FaultInjectingTransport(new MemoryTransport(new URL(memoryUrl), ctx), {
        drop: (frame) => {
          kinds.push(frame[3] as number);
          return false;
        },
        ...(capabilities === undefined ? {} : { capabilities }),
      }),
  );
  return { url: `${scheme}://x`, kinds };
}

/**
 * Registers a scheme whose transports hand each frame to a memory transport on the domain of
 * `memoryUrl` through `send(inner, frame, index)`, `index` counting the frames sent from 0;
 * `sendInPlace`, when given, becomes the transports' own.
 */
function wrapping(
  memoryUrl: string,
  send: (inner: Transport, frame: Uint8Array, index: number) => void | Promise<void>,
  sendInPlace?: (inner: Transport, length: number, writer: FrameWriter) => void | Promise<void>,
): string {
  counter += 1;
  const scheme = `wrap-bus-test-${counter}`;
  registerTransport(scheme, (_u, ctx) => {
    const inner = new MemoryTransport(new URL(memoryUrl), ctx);
    let index = 0;
    const wrapper: Transport = {
      capabilities: inner.capabilities,
      state$: inner.state$,
      frames$: inner.frames$,
      open: () => inner.open(),
      close: () => inner.close(),
      send: (frame) => send(inner, frame, index++),
      ...(sendInPlace === undefined ? {} : { sendInPlace: (length, writer) => sendInPlace(inner, length, writer) }),
    };
    return wrapper;
  });
  return `${scheme}://x`;
}

/**
 * A transport that accepts each frame only later, as one with backpressure does: send returns a
 * promise that resolves on the next turn of the event loop, when the frame is passed on.
 */
function acceptingLater(memoryUrl: string): string {
  return wrapping(
    memoryUrl,
    (inner, frame) =>
      new Promise<void>((resolve, reject) =>
        setImmediate(() => {
          try {
            void inner.send(frame);
            resolve();
          } catch (err) {
            reject(err as Error);
          }
        }),
      ),
  );
}

/** A sender's URL on a memory domain as it is, and through a transport that accepts later. */
const SENDERS: [name: string, sender: (memoryUrl: string) => string][] = [
  ['a transport that accepts at once', (u) => u],
  ['a transport that accepts later', acceptingLater],
];

/** A transport that refuses (BufferFullError) the frames whose kind is Publish and `refuse` picks. */
function refusing(memoryUrl: string, refuse: (frame: Uint8Array, publishIndex: number) => boolean): string {
  let publishes = 0;
  return wrapping(memoryUrl, (inner, frame) => {
    if (frame[3] === FrameKind.Publish && refuse(frame, publishes++)) throw new BufferFullError(0);
    return inner.send(frame);
  });
}

/** Lets queued microtasks (the memory transport's delivery) and immediates run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Registers a scheme whose transports write frames in place (`sendInPlace`) into a scratch buffer
 * at offset 3, record them in `written`, then hand them to a memory transport on the domain of
 * `memoryUrl`; `inPlace(index)` may throw or return a promise to act as the transport's answer.
 * Frames that come through plain `send` are recorded in `sent`.
 */
function writingInPlace(
  memoryUrl: string,
  inPlace: (index: number) => void | Promise<void> = () => undefined,
): { url: string; written: Uint8Array[]; sent: Uint8Array[] } {
  const written: Uint8Array[] = [];
  const sent: Uint8Array[] = [];
  const url = wrapping(
    memoryUrl,
    (inner, frame) => {
      sent.push(frame);
      return inner.send(frame);
    },
    (inner, length, writer) => {
      const answer = inPlace(written.length); // throws before anything is written
      const scratch = new Uint8Array(length + 6).fill(0xee);
      writer.writeFrame(scratch, 3);
      const frame = scratch.slice(3, 3 + length);
      expect([...scratch.subarray(0, 3), ...scratch.subarray(3 + length)]).toEqual([
        0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
      ]);
      written.push(frame);
      if (answer === undefined) return inner.send(frame);
      return answer.then(() => inner.send(frame));
    },
  );
  return { url, written, sent };
}

describe('publish / subscribe', () => {
  it('delivers to another member with topic, data, headers and sender', async () => {
    const u = url();
    const a = await join(u);
    const b = await join(u);
    const got = collect(b.subscribe<{ id: number }>('orders.created'), 1);
    await settle();
    await a.publish('orders.created', { id: 7 }, { headers: { traceparent: '00-abc' } });
    const [m] = await got;
    expect(m?.topic).toBe('orders.created');
    expect(m?.data).toEqual({ id: 7 });
    expect(m?.headers).toEqual({ traceparent: '00-abc' });
    expect(m?.sender.member).toBe(a.id);
  });

  it('matches * as one token and > as the rest, like NATS', async () => {
    const u = url();
    const a = await join(u);
    const b = await join(u);
    const star: string[] = [];
    const rest: string[] = [];
    b.subscribe('orders.*').subscribe((m) => star.push(m.topic));
    b.subscribe('orders.>').subscribe((m) => rest.push(m.topic));
    await settle();
    for (const t of ['orders.created', 'orders.eu.created', 'payments.done', 'orders']) await a.publish(t, 1);
    await settle();
    expect(star).toEqual(['orders.created']);
    expect(rest).toEqual(['orders.created', 'orders.eu.created']);
  });

  it('delivers to the publisher’s own subscribers, as a copy', async () => {
    const a = await join(url());
    const data = { n: 1 };
    const got = collect(a.subscribe<{ n: number }>('self.test'), 1);
    await a.publish('self.test', data);
    const [m] = await got;
    expect(m?.data).toEqual({ n: 1 });
    expect(m?.data).not.toBe(data);
  });

  it('stops delivering after unsubscribe and withdraws interest from the hub', async () => {
    const u = url();
    const a = await join(u);
    const b = await join(u);
    const seen: unknown[] = [];
    const sub = b.subscribe('x.y').subscribe((m) => seen.push(m.data));
    await settle();
    await a.publish('x.y', 1);
    await settle();
    sub.unsubscribe();
    await settle();
    await a.publish('x.y', 2);
    await settle();
    expect(seen).toEqual([1]);
  });

  it('carries raw bytes and JSON whatever the receiver’s own codec', async () => {
    const u = url();
    const raw = await createBus({ url: u, codec: rawCodec });
    const json = await createBus({ url: u, codec: jsonCodec });
    buses.push(raw, json);
    const b = await join(u);
    const got = collect(b.subscribe('codec.*'), 2);
    await settle();
    await raw.publish('codec.raw', new Uint8Array([1, 2, 3]));
    await json.publish('codec.json', { a: [1, 'two'] });
    const messages = await got;
    expect(messages.map((m) => m.data)).toEqual([new Uint8Array([1, 2, 3]), { a: [1, 'two'] }]);
  });

  it('reassembles a message larger than the transport’s frame', async () => {
    const u = url('?maxFrameSize=4096');
    const a = await join(u);
    const b = await join(u);
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const got = collect(b.subscribe<Uint8Array>('big'), 1);
    await settle();
    await a.publish('big', big);
    const [m] = await got;
    // Compared as buffers: a deep equality walk over 300 000 elements takes seconds.
    expect(Buffer.from(m?.data ?? []).equals(Buffer.from(big))).toBe(true);
  });

  // 6 MB in 4 KiB frames is ~1 500 fragments, more than the receiver's dedup window (1024): a
  // publish sent between them used to push the rest out of the window as late, losing the message.
  it.each(SENDERS)(
    'keeps a sender’s order when a publish follows a fragmented one unawaited (%s)',
    async (_name, sender) => {
      const u = url('?maxFrameSize=4096');
      const a = await join(sender(u));
      const b = await join(u);
      const seen = lastValueFrom(
        b.subscribe<Uint8Array | number>('t.>').pipe(
          takeWhile((m) => m.topic !== 't.small', true),
          toArray(),
        ),
      );
      await settle();
      const big = a.publish('t.big', new Uint8Array(6_000_000).fill(7));
      const small = a.publish('t.small', 1);
      await Promise.all([big, small]);
      const messages = await seen;
      expect(messages.map((m) => m.topic)).toEqual(['t.big', 't.small']);
      expect((messages[0]?.data as Uint8Array).length).toBe(6_000_000);
    },
  );

  it('rejects a publish that would queue past maxQueuedBytes behind one in progress, and sends on', async () => {
    const u = url('?maxFrameSize=4096');
    const a = await join({ url: acceptingLater(u), maxQueuedBytes: 10_000 });
    const b = await join(u);
    const seen: number[] = [];
    b.subscribe<Uint8Array>('t').subscribe((m) => seen.push(m.data.length));
    await settle();
    // The message in progress is never refused by the bound, however large.
    const big = a.publish('t', new Uint8Array(100_000));
    const waiting = [a.publish('t', new Uint8Array(4000)), a.publish('t', new Uint8Array(4000))];
    const over = a.publish('t', new Uint8Array(4000));
    await expect(over).rejects.toBeInstanceOf(BufferFullError);
    await expect(over).rejects.toMatchObject({ code: 'BUFFER_FULL', limit: 10_000 });
    await Promise.all([big, ...waiting]);
    // Drained: the queue takes messages again.
    await a.publish('t', new Uint8Array(4000));
    await vi.waitFor(() => expect(seen).toHaveLength(4));
    expect(seen).toEqual([100_000, 4000, 4000, 4000]);
  });

  it('fragments by the exact encoded size, headers included', async () => {
    const u = url('?maxFrameSize=8192');
    const a = await join(u);
    const b = await join(u);
    const headers = { note: 'h'.repeat(4000) };
    const remote = collect(b.subscribe<Uint8Array>('t'), 2);
    const local = collect(a.subscribe<Uint8Array>('t'), 2);
    await settle();
    // 5000 + 4000 bytes of headers: more than a frame, although the payload alone is not.
    await a.publish('t', new Uint8Array(5000), { headers });
    await a.publish('t', new Uint8Array(7000), { headers });
    for (const got of [await remote, await local]) {
      expect(got.map((m) => m.data.length)).toEqual([5000, 7000]);
      expect(got.map((m) => m.headers)).toEqual([headers, headers]);
    }
  });

  // msgpack values are encoded behind room for the envelope's head, and the frame is written
  // around them; every path that takes the payload elsewhere must leave that room behind.
  it.each(SENDERS)('carries encoded values whole, in fragments, queued and to itself (%s)', async (_name, sender) => {
    const u = url('?maxFrameSize=4096');
    const a = await join(sender(u));
    const b = await join(u);
    const values = [{ n: 1 }, { s: 'x'.repeat(10_000) }, 'y'.repeat(300), [1, [2, 3]], { n: 2 }];
    const remote = collect(b.subscribe('t'), values.length);
    const local = collect(a.subscribe('t'), values.length);
    await settle();
    await Promise.all(values.map((v) => a.publish('t', v))); // unawaited one by one: some queue
    for (const got of [await remote, await local]) expect(got.map((m) => m.data)).toEqual(values);
  });

  it('carries an encoded value on a topic too long for the room msgpackr leaves (255 bytes)', async () => {
    const u = url();
    const a = await join(u);
    const b = await join(u);
    const topic = `t.${'x'.repeat(300)}`;
    const got = collect(b.subscribe(topic), 1);
    await settle();
    await a.publish(topic, { n: 1 });
    expect((await got)[0]?.data).toEqual({ n: 1 });
  });

  it('measures an encoded value by its frame’s exact size, the room for the head not counted in it', async () => {
    const topic = 't.size';
    // A 100-character string is msgpack str 8: two bytes of head.
    const a = await join({ url: url(), maxMessageSize: ENVELOPE_HEADER_SIZE + topic.length + 2 + 100 });
    await expect(a.publish(topic, 'x'.repeat(100))).resolves.toBeUndefined();
    await expect(a.publish(topic, 'x'.repeat(101))).rejects.toBeInstanceOf(FrameTooLargeError);
  });

  it('delivers to local subscribers only what the transport accepted', async () => {
    const u = url();
    // Refuses the first publish frame, and the third fragment of the 2nd message (1 KiB frames).
    const a = await join({ url: refusing(u, (_f, i) => i === 0 || i === 3), maxFrameSize: 1024 });
    const b = await join(u);
    const local: number[] = [];
    const remote: number[] = [];
    a.subscribe<Uint8Array>('t').subscribe((m) => local.push(m.data.length));
    b.subscribe<Uint8Array>('t').subscribe((m) => remote.push(m.data.length));
    await settle();
    await expect(a.publish('t', new Uint8Array(300))).rejects.toBeInstanceOf(BufferFullError);
    await expect(a.publish('t', new Uint8Array(10_000))).rejects.toBeInstanceOf(BufferFullError);
    await a.publish('t', new Uint8Array(10));
    await vi.waitFor(() => expect(remote).toContain(10));
    expect(remote).toEqual([10]);
    expect(local).toEqual([10]);
  });

  it('refuses a pattern past the 10 000 a hub takes from a member, and carries on', async () => {
    const u = url();
    const a = await join(u);
    const b = await join(u);
    const subscriptions = [];
    for (let i = 0; i < 9_999; i += 1) subscriptions.push(a.subscribe(`p.${i}`).subscribe());
    const off = a.handle('h.0', () => 'ok'); // handlers count with subscriptions: 10 000 now
    let refused: unknown;
    a.subscribe('p.new').subscribe({ error: (err: unknown) => (refused = err) });
    expect(refused).toBeInstanceOf(LinkLimitError);
    expect(refused).toMatchObject({ code: 'LINK_LIMIT', what: 'patterns', limit: 10_000 });
    expect(() => a.handle('h.new', () => 'no')).toThrow(LinkLimitError);
    // A pattern already held is no new one.
    const again = collect(a.subscribe<number>('p.7'), 1);
    // The member was not cut off: its link is open, its patterns all work.
    await settle();
    await b.publish('p.7', 7);
    expect((await again)[0]?.data).toBe(7);
    await expect(firstValueFrom(b.request('h.0', null, { timeout: 5000 }))).resolves.toBe('ok');
    // One let go makes room for another.
    off();
    const late = collect(a.subscribe<number>('p.new'), 1);
    await settle();
    await b.publish('p.new', 1);
    expect((await late)[0]?.data).toBe(1);
    expect(await firstValueFrom(a.state$)).toBe('open');
    for (const s of subscriptions) s.unsubscribe();
  });

  it('rejects bad topics and patterns with TopicError', async () => {
    const a = await join(url());
    await expect(a.publish('orders.*', 1)).rejects.toBeInstanceOf(TopicError);
    await expect(a.publish('a..b', 1)).rejects.toBeInstanceOf(TopicError);
    expect(() => a.subscribe('a.>.b')).toThrow(TopicError);
  });
});

describe('request / reply', () => {
  it('answers a value, a promise, and a stream', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    server.handle<number, number>('math.double', (req) => req.data * 2);
    server.handle<number, number>('math.later', async (req) => req.data + 1);
    server.handle<number, number>('math.count', (req) => interval(1).pipe(take(req.data)));
    await settle();
    expect(await firstValueFrom(client.request('math.double', 21))).toBe(42);
    expect(await firstValueFrom(client.request('math.later', 1))).toBe(2);
    expect(await lastValueFrom(client.request('math.count', 4).pipe(toArray()))).toEqual([0, 1, 2, 3]);
  });

  it('carries binary requests and replies of every msgpack bin size, single and streamed, as copies', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    const kept: Uint8Array[] = [];
    server.handle<Uint8Array, Uint8Array>('bin.echo', (req) => {
      kept.push(req.data);
      return req.data;
    });
    const chunks = (n: number) => [0, 1, 2].map((k) => new Uint8Array(n).fill(k + 1));
    server.handle<number, Uint8Array>('bin.stream', (req) =>
      interval(1).pipe(
        take(3),
        map((k) => chunks(req.data)[k] as Uint8Array),
      ),
    );
    await settle();
    for (const size of [0, 64, 300, 70_000]) {
      const data = Uint8Array.from({ length: size }, (_, i) => (i * 13) & 0xff);
      const answer = await firstValueFrom(client.request<Uint8Array>('bin.echo', data));
      expect([...answer], `${size} bytes`).toEqual([...data]);
      expect(answer).not.toBe(data);
      data.fill(0); // the request went out as a copy: what the handler got does not change
      if (size > 0) expect(kept.at(-1)?.some((b) => b !== 0)).toBe(true);
      const streamed = await lastValueFrom(client.request<Uint8Array>('bin.stream', size).pipe(toArray()));
      expect(streamed.map((c) => [...c])).toEqual(chunks(size).map((c) => [...c]));
    }
  });

  it('answers a value handler with one frame that also ends the stream', async () => {
    const u = url();
    const sent: number[] = [];
    registerTransport(
      'counting-bus-test',
      (_u, ctx) =>
        new FaultInjectingTransport(new MemoryTransport(new URL(u), ctx), {
          drop: (frame) => {
            sent.push(frame[3] as number); // byte 3 is the frame kind
            return false;
          },
        }),
    );
    const server = await join('counting-bus-test://x');
    const client = await join(u);
    server.handle('one', () => 1);
    await settle();
    sent.length = 0;
    expect(await lastValueFrom(client.request('one', null).pipe(toArray()))).toEqual([1]);
    expect(sent).toEqual([FrameKind.Reply]);
  });

  it('serves a request with a local handler', async () => {
    const a = await join(url());
    a.handle('local.echo', (req) => req.data);
    expect(await firstValueFrom(a.request('local.echo', 'hi'))).toBe('hi');
  });

  it('carries the handler’s error name, message and code', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    server.handle('fail', () => {
      const err = new RangeError('sku out of range') as RangeError & { code: string };
      err.code = 'E_SKU';
      throw err;
    });
    await settle();
    const err = await firstValueFrom(client.request('fail', null)).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RangeError', message: 'sku out of range', code: 'E_SKU' });
  });

  it('cancels the handler’s stream when the requester unsubscribes', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    let torndown = false;
    server.handle(
      'ticks',
      () =>
        new Observable<number>((o) => {
          let n = 0;
          const t = setInterval(() => o.next(n++), 1);
          return () => {
            clearInterval(t);
            torndown = true;
          };
        }),
    );
    await settle();
    const first = await lastValueFrom(client.request<number>('ticks', null).pipe(take(3), toArray()));
    expect(first).toEqual([0, 1, 2]);
    await vi.waitFor(() => expect(torndown).toBe(true));
  });

  it('fails fast with NoRespondersError when nobody handles the topic', async () => {
    const u = url();
    await join(u);
    const client = await join(u);
    const err = await firstValueFrom(client.request('nobody.home', 1, { timeout: 60_000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRespondersError);
  });

  it('times out with TimeoutError when the handler never answers', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    server.handle('silent', () => new Observable(() => undefined));
    await settle();
    // performance too: request deadlines are kept in performance.now() time (RequestDeadlines).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const result = firstValueFrom(client.request('silent', 1, { timeout: 2000 })).catch((e: unknown) => e);
    await settle(); // the handler's ack re-arms the timer: the timeout counts from the last sign of life
    await settle();
    await vi.advanceTimersByTimeAsync(1999);
    expect(client.stats().pendingRequests).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const err = await result;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT', timeout: 2000 });
  });

  it('keeps many requests apart, answered out of order, among ones that time out (request bookkeeping)', async () => {
    // Pending requests sit in a table indexed by correlation id, deadlines in a queue per timeout,
    // handlings in a per-requester record: a long wait must not disturb the many that come and go.
    const u = url();
    const server = await join(u);
    const client = await join(u);
    const later: Array<() => void> = [];
    server.handle<number, number>('echo', (req) => req.data);
    server.handle<number, number>('reversed', (req) =>
      req.data < 0
        ? new Observable<number>(() => undefined)
        : new Promise((resolve) => later.push(() => resolve(req.data))),
    );
    await settle();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const silent = firstValueFrom(client.request('reversed', -1, { timeout: 1000 })).catch((e: unknown) => e);
    const sequential: number[] = [];
    for (let i = 0; i < 40; i += 1) sequential.push(await firstValueFrom(client.request<number>('echo', i)));
    expect(sequential).toEqual([...Array(40).keys()]);
    const concurrent = Array.from({ length: 50 }, (_, i) =>
      firstValueFrom(client.request<number>('reversed', i, { timeout: 1000 })),
    );
    const shorter = firstValueFrom(client.request('reversed', -2, { timeout: 500 })).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    await vi.waitFor(() => expect(later).toHaveLength(50));
    for (const answer of later.reverse()) answer();
    expect(await Promise.all(concurrent)).toEqual([...Array(50).keys()]);
    expect(client.stats().pendingRequests).toBe(2);
    await vi.advanceTimersByTimeAsync(500);
    expect(await shorter).toBeInstanceOf(TimeoutError);
    expect(client.stats().pendingRequests).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(await silent).toMatchObject({ code: 'TIMEOUT', timeout: 1000 });
    expect(client.stats().pendingRequests).toBe(0);
    expect(await firstValueFrom(client.request<number>('echo', 7))).toBe(7);
  });

  it('errors with PeerLostError when the handling member leaves mid-request', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    server.handle('hang', () => new Observable(() => undefined));
    await settle();
    const result = firstValueFrom(client.request('hang', 1, { timeout: 60_000 })).catch((e: unknown) => e);
    await settle(); // the handler's ack arrives: the client knows who serves it
    await settle();
    await server.close();
    expect(await result).toBeInstanceOf(PeerLostError);
  });

  it('decodes every payload encoding received, with headers and the sender of each frame, and counts bad ones', async () => {
    const bus = await join(url());
    const seen: Message[] = [];
    bus.subscribe('in.>').subscribe((m) => seen.push(m));
    const frame = (
      origin: number,
      sequence: number,
      encoding: 0 | 1 | 2,
      payload: Uint8Array,
      headers?: Record<string, string>,
    ) =>
      encodeEnvelope({
        kind: FrameKind.Publish,
        origin,
        sequence,
        topic: `in.${encoding}`,
        encoding,
        payload,
        headers,
      });
    const one = Object.freeze({ pid: 1 });
    const two = Object.freeze({ pid: 2 });
    const blob = new Uint8Array(300).fill(3);
    const inputs: [Uint8Array, typeof one | undefined][] = [
      [frame(77, 1, 1, msgpackCodec.encode({ n: 1 })), one],
      [frame(77, 2, 1, msgpackCodec.encode(blob), { trace: 'x' }), one],
      [frame(78, 1, 2, jsonCodec.encode([1, 'a'])), one],
      [frame(77, 3, 0, Uint8Array.of(9, 8)), two],
      [frame(77, 4, 1, msgpackCodec.encode('s')), undefined],
      [frame(77, 5, 1, Uint8Array.of(0x92, 0x01)), one], // cut short: counted, not delivered
      [frame(77, 6, 2, Uint8Array.of(0x7b)), one], // not JSON
      [frame(77, 2, 1, msgpackCodec.encode('duplicate')), one],
    ];
    for (const [bytes, peer] of inputs) bus.receive({ bytes, peer });
    expect(seen.map((m) => m.data)).toEqual([{ n: 1 }, blob, [1, 'a'], Uint8Array.of(9, 8), 's']);
    expect(seen.map((m) => ({ ...m.sender }))).toEqual([
      { pid: 1, member: (77).toString(36) },
      { pid: 1, member: (77).toString(36) },
      { pid: 1, member: (78).toString(36) },
      { pid: 2, member: (77).toString(36) },
      { member: (77).toString(36) },
    ]);
    expect({ ...seen[1]?.headers }).toEqual({ trace: 'x' });
    expect(seen[0]?.headers).toEqual({});
    expect(bus.stats().badFrames).toBe(2);
  });

  it('errors with PeerLostError when a hub reports that the handling member went before answering', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    server.handle('hang', () => new Observable(() => undefined));
    await settle();
    const result = firstValueFrom(client.request('hang', 1, { timeout: 60_000 })).catch((e: unknown) => e);
    await settle();
    // What a hub's router sends when the link it handed the request to goes (origin 0: the hub).
    client.receive({
      bytes: encodeEnvelope({
        kind: FrameKind.ReplyError,
        origin: 0,
        sequence: 1,
        topic: `_INBOX.${client.id}`,
        correlation: 1,
        payload: encodeRemoteError(new PeerLostError(server.id)),
      }),
      peer: undefined,
    });
    const err = await result;
    expect(err).toBeInstanceOf(PeerLostError);
    expect(err).toMatchObject({ code: 'PEER_LOST', member: server.id });
  });

  it('keeps a member’s PEER_LOST error a RemoteError: only a hub speaks for a member that went', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    server.handle('fails', () => {
      throw new PeerLostError('someone');
    });
    await settle();
    const err = await firstValueFrom(client.request('fails', 1)).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(PeerLostError);
    expect(err).toMatchObject({ name: 'PeerLostError', code: 'PEER_LOST' });
  });

  it('cancels a local handler when the requester unsubscribes before any reply or ack', async () => {
    const a = await join(url());
    let started = 0;
    let tornDown = 0;
    a.handle(
      'ticks',
      () =>
        new Observable<number>(() => {
          started += 1;
          return () => (tornDown += 1);
        }),
    );
    // switchMap does this when the next request comes at once: subscribe, then unsubscribe.
    a.request('ticks', null, { timeout: 60_000 }).subscribe().unsubscribe();
    expect(started).toBe(1);
    await vi.waitFor(() => expect(tornDown).toBe(1));
  });

  it('fails the request with the reason when the reply cannot be sent', async () => {
    const u = url();
    const server = await join({ url: u, maxMessageSize: 1000 });
    const client = await join(u);
    let streamed = 0;
    server.handle('big', () => 'x'.repeat(5000));
    server.handle(
      'stream',
      () =>
        new Observable<string>((o) => {
          o.next('small');
          o.next('x'.repeat(5000));
          if (!o.closed) streamed += 1; // the stream was not stopped after its failed reply
          o.complete();
        }),
    );
    await settle();
    // Without a reason the requester would wait for its whole timeout and get TimeoutError.
    const err = await firstValueFrom(client.request('big', null, { timeout: 10_000 })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'FrameTooLargeError', code: 'FRAME_TOO_LARGE' });
    const values: unknown[] = [];
    const streamErr = await lastValueFrom(
      client.request('stream', null, { timeout: 10_000 }).pipe(
        takeWhile((v) => values.push(v) > 0),
        toArray(),
      ),
    ).catch((e: unknown) => e);
    expect(values).toEqual(['small']);
    expect(streamErr).toMatchObject({ code: 'FRAME_TOO_LARGE' });
    expect(streamed).toBe(0);
  });

  it('stops a streamed reply at the first value that cannot be encoded', async () => {
    const u = url();
    const spy = spying(u);
    const server = await join({ url: spy.url, codec: jsonCodec });
    const client = await join(u);
    let emittedAfterFailure = 0;
    server.handle(
      's',
      () =>
        new Observable<unknown>((o) => {
          o.next(1);
          o.next(10n); // JSON cannot encode a BigInt
          for (let i = 0; i < 3 && !o.closed; i += 1) {
            o.next(i);
            emittedAfterFailure += 1;
          }
          o.complete();
        }),
    );
    await settle();
    spy.kinds.length = 0;
    const err = await lastValueFrom(client.request('s', null)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CODEC' });
    await settle();
    expect(spy.kinds).toEqual([FrameKind.Reply, FrameKind.ReplyError]);
    expect(emittedAfterFailure).toBe(0);
  });

  it('errors with PeerLostError when the handling member closes before acknowledging', async () => {
    const u = url();
    const spy = spying(u);
    const server = await join(spy.url);
    const client = await join(u);
    server.handle('quick', () => 1);
    server.handle('work', () => {
      void server.close(); // leaves while its handler runs, before the deferred ack
      return new Observable(() => undefined);
    });
    await settle();
    spy.kinds.length = 0;
    // The common round trip keeps its single frame: no ack ahead of a synchronous answer.
    expect(await firstValueFrom(client.request('quick', null))).toBe(1);
    expect(spy.kinds).toEqual([FrameKind.Reply]);
    spy.kinds.length = 0;
    const err = await firstValueFrom(client.request('work', 1, { timeout: 10_000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerLostError);
    expect(spy.kinds).toEqual([FrameKind.Ack, FrameKind.Leave]);
  });

  it('is cold: nothing is sent until subscribed', async () => {
    const u = url();
    const server = await join(u);
    const client = await join(u);
    const handler = vi.fn((req: Message) => req.data);
    server.handle('cold', handler);
    await settle();
    const request = client.request('cold', 1);
    await settle();
    expect(handler).not.toHaveBeenCalled();
    await firstValueFrom(request);
    expect(handler).toHaveBeenCalledTimes(1);
  });
});

describe('sending in place (Transport.sendInPlace)', () => {
  it('writes published frames straight into the transport, binary payloads copied once, and they arrive intact', async () => {
    const u = url();
    const spy = writingInPlace(u);
    const a = await join(spy.url);
    const b = await join(u);
    const got = collect(b.subscribe('in.place'), 3);
    await settle();
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    await a.publish('in.place', bytes);
    await a.publish('in.place', { id: 1 });
    await a.publish('in.place', 'text', { headers: { trace: 'x' } });
    const messages = await got;
    expect([...(messages[0]?.data as Uint8Array)]).toEqual([...bytes]);
    expect(messages[1]?.data).toEqual({ id: 1 });
    expect(messages[2]?.data).toBe('text');
    expect(messages[2]?.headers).toEqual({ trace: 'x' });
    // The two without headers were written in place; the one with headers went through send.
    const publishes = (frames: Uint8Array[]) => frames.filter((f) => f[3] === FrameKind.Publish);
    expect(publishes(spy.written)).toHaveLength(2);
    expect(publishes(spy.sent)).toHaveLength(1);
    expect(b.stats().gaps).toBe(0);
  });

  it('a message the publisher also wants itself goes through send, and reaches both', async () => {
    const u = url();
    const spy = writingInPlace(u);
    const a = await join(spy.url);
    const b = await join(u);
    const mine = collect(a.subscribe('both'), 1);
    const theirs = collect(b.subscribe('both'), 1);
    await settle();
    await a.publish('both', 5);
    expect((await mine)[0]?.data).toBe(5);
    expect((await theirs)[0]?.data).toBe(5);
    expect(spy.written.filter((f) => f[3] === FrameKind.Publish)).toHaveLength(0);
    expect(spy.sent.filter((f) => f[3] === FrameKind.Publish)).toHaveLength(1);
  });

  it('a refused in-place send rejects the publish and gives its sequence number back (no gap)', async () => {
    const u = url();
    let refuse = false;
    const spy = writingInPlace(u, () => {
      if (refuse) throw new BufferFullError(0);
    });
    const a = await join(spy.url);
    const b = await join(u);
    const got = collect(b.subscribe('refused'), 2);
    await settle();
    await a.publish('refused', 1);
    refuse = true;
    await expect(a.publish('refused', 2)).rejects.toBeInstanceOf(BufferFullError);
    refuse = false;
    await a.publish('refused', 3);
    expect((await got).map((m) => m.data)).toEqual([1, 3]);
    expect(b.stats().gaps).toBe(0);
  });

  it('frames accepted later keep their order: what follows waits behind them', async () => {
    const u = url();
    const spy = writingInPlace(u, (index) => (index % 2 === 0 ? new Promise((r) => setImmediate(r)) : undefined));
    const a = await join(spy.url);
    const b = await join(u);
    const got = collect(b.subscribe('ordered'), 20);
    await settle();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 20; i += 1) sends.push(a.publish('ordered', i));
    await Promise.all(sends);
    expect((await got).map((m) => m.data)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(b.stats().gaps).toBe(0);
  });
});

describe('statistics', () => {
  it('counts holes in a sender’s sequence as lost on a broadcast medium, not on a hub', async () => {
    // B and C each see only the topic they subscribe to, so each sees every other sequence number
    // of A's. A medium that reports 'native' broadcast promises every frame to every member, so
    // there those holes are losses; on a hub they are routing. Same traffic, both ways.
    const hubUrl = url();
    const nativeUrl = url();
    const native = spying(nativeUrl, { broadcast: 'native' });
    for (const [target, expectLost] of [
      [hubUrl, false],
      [native.url, true],
    ] as const) {
      const a = await join(target);
      const b = await join(target);
      const c = await join(target);
      const seenB = collect(b.subscribe('x'), 1500);
      const seenC = collect(c.subscribe('y'), 1500);
      await settle();
      for (let i = 0; i < 1500; i += 1) {
        await a.publish('x', i);
        await a.publish('y', i);
      }
      await Promise.all([seenB, seenC]);
      if (expectLost) {
        // 1500 holes each, less the ~512 still inside the 1024-frame window.
        for (const member of [b, c]) {
          expect(member.stats().gaps).toBeGreaterThan(900);
          expect(member.stats().gaps).toBeLessThanOrEqual(1500);
        }
      } else {
        expect(b.stats().gaps).toBe(0);
        expect(c.stats().gaps).toBe(0);
      }
    }
  });

  it('numbers only the frames that go on the wire', async () => {
    // A 'native' medium promises every frame to every member, so b counts any hole in a's
    // sequence as a lost frame: frames a keeps to itself or refuses must not make holes.
    const u = url();
    const native = spying(u, { broadcast: 'native' });
    const a = await join({ url: native.url, maxMessageSize: 10_000 });
    const b = await join(native.url);
    let got = 0;
    b.subscribe('p').subscribe(() => (got += 1));
    a.handle<number, number>('local.calc', (m) => m.data * 2);
    a.handle('local.slow', () => new Observable<never>(() => undefined));
    await settle();
    for (let i = 0; i < 1200; i += 1) {
      await a.publish('p', i);
      // Served in-process: the request, its reply, ack and cancel never leave this member.
      await firstValueFrom(a.request('local.calc', i));
      if (i % 100 === 0) {
        a.request('local.slow', i).subscribe().unsubscribe();
        await expect(a.publish('p', new Uint8Array(20_000))).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
      }
    }
    await vi.waitFor(() => expect(got).toBe(1200));
    expect(b.stats().gaps).toBe(0);
  });
});

describe('life cycle and configuration', () => {
  it('reports state and completes subscriptions and fails requests on close', async () => {
    const u = url();
    const server = await join(u);
    const a = await join(u);
    server.handle('hang', () => new Observable(() => undefined));
    const states: string[] = [];
    a.state$.subscribe((s) => states.push(s));
    let completed = false;
    a.subscribe('x').subscribe({ complete: () => (completed = true) });
    await settle();
    const pending = firstValueFrom(a.request('hang', 1)).catch((e: unknown) => e);
    await a.close();
    expect(completed).toBe(true);
    expect(await pending).toBeInstanceOf(ClosedError);
    expect(states).toEqual(['open', 'closed']);
    await expect(a.publish('x', 1)).rejects.toBeInstanceOf(ClosedError);
    await a.close(); // idempotent
  });

  it('takes the URL from BUSWAY_URL when called with no argument', async () => {
    const u = url();
    vi.stubEnv('BUSWAY_URL', u);
    try {
      const a = await join(u);
      const b = await createBus();
      buses.push(b);
      const got = collect(a.subscribe('env'), 1);
      await settle();
      await b.publish('env', 'from env');
      expect((await got)[0]?.data).toBe('from env');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('fails with a clear error for a missing URL, a bad URL and an unknown scheme', async () => {
    vi.stubEnv('BUSWAY_URL', '');
    try {
      await expect(createBus()).rejects.toBeInstanceOf(ConfigurationError);
    } finally {
      vi.unstubAllEnvs();
    }
    await expect(createBus('not a url')).rejects.toBeInstanceOf(ConfigurationError);
    const err = await createBus('carrier-pigeon://x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportNotFoundError);
    expect((err as Error).message).toContain("registerTransport('carrier-pigeon'");
  });
});
