import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { OutboundBuffer, ReconnectBackoff } from '../../src/hub/index.js';
import { BufferFullError } from '../../src/errors.js';

describe('ReconnectBackoff', () => {
  it('grows exponentially up to the ceiling, jittered downwards by the injected random', () => {
    const noJitter = new ReconnectBackoff({ initialDelay: 10, maxDelay: 100, factor: 2 }, () => 0);
    expect(Array.from({ length: 6 }, () => noJitter.next())).toEqual([10, 20, 40, 80, 100, 100]);
    const fullDraw = new ReconnectBackoff({ initialDelay: 10, maxDelay: 100, jitter: 0.5 }, () => 1);
    expect(Array.from({ length: 3 }, () => fullDraw.next())).toEqual([5, 10, 20]);
  });

  it('starts over after reset and never overflows after many failures', () => {
    const b = new ReconnectBackoff({ initialDelay: 10, maxDelay: 1000, jitter: 0 });
    for (let i = 0; i < 10_000; i += 1) b.next();
    expect(b.next()).toBe(1000);
    expect(b.attempts).toBe(10_001);
    b.reset();
    expect(b.next()).toBe(10);
  });

  it('rejects impossible settings', () => {
    expect(() => new ReconnectBackoff({ initialDelay: 100, maxDelay: 10 })).toThrow(ConfigurationError);
    expect(() => new ReconnectBackoff({ jitter: 2 })).toThrow(ConfigurationError);
  });
});

describe('OutboundBuffer', () => {
  it('holds up to the bound and keeps what a failing drain did not send', () => {
    const buffer = new OutboundBuffer(10);
    buffer.push(new Uint8Array(4));
    buffer.push(new Uint8Array(4));
    expect(() => buffer.push(new Uint8Array(3))).toThrow(BufferFullError);
    expect(buffer.bytes).toBe(8);
    let calls = 0;
    expect(() =>
      buffer.drain(() => {
        calls += 1;
        if (calls === 2) throw new Error('link refused');
      }),
    ).toThrow('link refused');
    expect([buffer.length, buffer.bytes]).toEqual([1, 4]);
    buffer.drain(() => undefined);
    expect([buffer.length, buffer.bytes]).toEqual([0, 0]);
  });
});

describe('TakeoverReplay', () => {
  it('holds publishes during the grace period only, and replays matching ones to a new subscriber', async () => {
    const { TakeoverReplay } = await import('../../src/hub/index.js');
    const { encodeEnvelope, FrameKind } = await import('../../src/envelope.js');
    let now = 0;
    const replay = new TakeoverReplay<{ deliver(f: Uint8Array): void; got: Uint8Array[] }>(1000, 100, () => now);
    const mk = () => {
      const got: Uint8Array[] = [];
      return { got, deliver: (f: Uint8Array) => got.push(f) };
    };
    const publisher = mk();
    const subscriber = mk();
    const pub = (topic: string) => encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 1, topic });
    const sub = (pattern: string) =>
      encodeEnvelope({ kind: FrameKind.Subscribe, origin: 2, sequence: 1, topic: pattern });
    replay.observe(pub('a.b'), publisher);
    replay.observe(pub('c.d'), publisher);
    replay.observe(sub('a.*'), subscriber);
    expect(subscriber.got).toHaveLength(1);
    replay.observe(sub('>'), publisher); // never back to the link that published it
    expect(publisher.got).toHaveLength(0);
    now = 101;
    replay.observe(sub('c.*'), subscriber); // too late: released
    expect(subscriber.got).toHaveLength(1);
    expect(replay.bytes).toBe(0);
    replay.release();
  });

  it('never holds a publish to an inbox, so a `>` subscriber is not replayed one', async () => {
    const { TakeoverReplay } = await import('../../src/hub/index.js');
    const { encodeEnvelope, FrameKind } = await import('../../src/envelope.js');
    const { inboxTopic } = await import('../../src/inbox.js');
    const replay = new TakeoverReplay<{ deliver(f: Uint8Array): void }>(1000, 1000);
    const got: Uint8Array[] = [];
    const publisher = { deliver: () => undefined };
    const spy = { deliver: (f: Uint8Array) => got.push(f) };
    replay.observe(
      encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 1, topic: inboxTopic(7) }),
      publisher,
    );
    replay.observe(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 2, topic: 'a' }), publisher);
    replay.observe(encodeEnvelope({ kind: FrameKind.Subscribe, origin: 2, sequence: 0, topic: '>' }), spy);
    expect(got).toHaveLength(1); // 'a' only
    replay.release();
  });

  it('holds no more than its byte bound', async () => {
    const { TakeoverReplay } = await import('../../src/hub/index.js');
    const { encodeEnvelope, FrameKind } = await import('../../src/envelope.js');
    const replay = new TakeoverReplay<{ deliver(f: Uint8Array): void }>(100, 1000);
    const from = { deliver: () => undefined };
    for (let i = 0; i < 10; i += 1)
      replay.observe(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: i, topic: 'x' }), from);
    expect(replay.bytes).toBeLessThanOrEqual(100);
    expect(replay.bytes).toBeGreaterThan(0);
    replay.release();
  });
});
