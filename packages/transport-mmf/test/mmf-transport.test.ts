import { BufferFullError, ClosedError, ConfigurationError, FrameTooLargeError, type InboundFrame } from '@busway/core';
import { decodeEnvelope, encodeEnvelope, FrameKind } from '@busway/core/internal';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport } from '../src/index.js';
import { parseSize, resolveMmfOptions } from '../src/mmf-options.js';
import type { MmfTransport } from '../src/mmf-transport.js';
import { RingMismatchError } from '../src/errors.js';
import { RingReader } from '../src/ring-reader.js';
import { RingOffset } from '../src/ring-layout.js';
import { SharedRing } from '../src/shared-ring.js';

const transports: MmfTransport[] = [];
let n = 0;

function member(url: string, options: Record<string, unknown> = {}): MmfTransport {
  const t = createTransport(new URL(url), {
    memberId: transports.length + 1,
    maxFrameSize: 16 << 20,
    options,
  }) as MmfTransport;
  transports.push(t);
  return t;
}

const url = (query = 'size=64KiB'): string => `mmf://transport-${process.pid}-${++n}?${query}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
});

describe('mmf:// options', () => {
  it('reads sizes with units and checks them', () => {
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('16MiB')).toBe(16 << 20);
    expect(parseSize('1gib')).toBe(1 << 30);
    expect(parseSize(8192)).toBe(8192);
    expect(() => parseSize('12 parsecs')).toThrow(ConfigurationError);
    expect(resolveMmfOptions(new URL('mmf://orders'), {})).toMatchObject({
      name: 'orders',
      capacity: 16 << 20,
      scope: 'local',
      abandonAfterMs: 500,
    });
    expect(resolveMmfOptions(new URL('mmf://orders?size=1MiB&scope=global'), { size: '64KiB' })).toMatchObject({
      capacity: 1 << 20,
      scope: 'global',
    });
  });

  it.each([
    ['mmf://orders?size=3000', /power of two/],
    ['mmf://orders?size=2GiB', /power of two/],
    ['mmf://orders?scope=world', /scope/],
    ['mmf://orders?abandonAfterMs=-1', /abandonAfterMs/],
    ['mmf://', /needs a name/],
    ['mmf://a%2Fb', /needs a name/],
  ])('refuses %s', (text, message) => {
    expect(() => member(text)).toThrow(ConfigurationError);
    expect(() => member(text)).toThrow(message);
  });

  it('caps maxFrameSize at a quarter of the ring, so core fragments larger messages', () => {
    expect(member(url('size=64KiB')).capabilities).toMatchObject({
      maxFrameSize: 16384 - 16,
      broadcast: 'native',
      reliable: false,
      ordered: true,
    });
  });
});

describe('MmfTransport', () => {
  it('delivers to every other member, never to the sender', async () => {
    const u = url();
    const [a, b, c] = [member(u), member(u), member(u)];
    await Promise.all([a.open(), b.open(), c.open()]);
    const atB = firstValueFrom(b.frames$.pipe(take(2), toArray()));
    const atC = firstValueFrom(c.frames$.pipe(take(2), toArray()));
    const atA: InboundFrame[] = [];
    a.frames$.subscribe((f) => atA.push(f));
    a.send(new Uint8Array([1, 2, 3]));
    a.send(new Uint8Array([4]));
    const copy = (fs: InboundFrame[]): number[][] => fs.map((f) => [...f.bytes]);
    // bytes are only valid during delivery: compare what was seen at the time
    expect((await atB).length).toBe(2);
    expect((await atC).length).toBe(2);
    await sleep(50);
    expect(copy(atA)).toEqual([]);
  });

  it('wakes a sleeping member through the doorbell, long before its idle re-check', async () => {
    const u = url();
    const a = member(u);
    const b = member(u, { idleCheckMs: 20_000 });
    await Promise.all([a.open(), b.open()]);
    await sleep(100); // b has found nothing and sleeps
    const got = firstValueFrom(b.frames$);
    const sent = performance.now();
    a.send(new Uint8Array([42]));
    await got;
    expect(performance.now() - sent).toBeLessThan(2_000);
  });

  it('an idle member does not spin: well under 5% of a core over a second', async () => {
    const t = member(url());
    await t.open();
    await sleep(200);
    const before = process.cpuUsage();
    await sleep(1_000);
    const used = process.cpuUsage(before);
    expect((used.user + used.system) / 1000).toBeLessThan(50);
  });

  it('a member that falls more than a ring behind reports how many frames it lost', async () => {
    const u = url('size=4KiB');
    const [a, b] = [member(u), member(u)];
    await Promise.all([a.open(), b.open()]);
    let seen = 0;
    b.frames$.subscribe(() => seen++);
    for (let i = 0; i < 200; i++) a.send(new Uint8Array(100)); // 200 x 128 bytes > 4 KiB, no yield
    await sleep(100);
    const stats = b.stats();
    expect(stats.framesLost).toBeGreaterThan(0);
    expect(stats.framesDelivered).toBe(seen);
    expect(stats.framesDelivered + stats.framesLost).toBe(200);
  });

  it('overflow=wait: a sender waits for the slowest reader instead of overwriting, and nothing is lost', async () => {
    const u = url('size=4KiB');
    const a = member(u, { overflow: 'wait' });
    const b = member(u);
    await Promise.all([a.open(), b.open()]);
    const got: number[] = [];
    b.frames$.subscribe((f) => got.push(f.bytes[0] ?? -1));
    const sends: Array<void | Promise<void>> = [];
    for (let i = 0; i < 200; i++) sends.push(a.send(new Uint8Array(100).fill(i)));
    await Promise.all(sends);
    await sleep(100);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(b.stats().framesLost).toBe(0);
  });

  it('sendInPlace: written straight into the ring, or into bytes of its own when it must wait; order kept either way', async () => {
    for (const overflow of ['lose', 'wait'] as const) {
      const u = url('size=4KiB');
      const a = member(u, { overflow });
      const b = member(u);
      await Promise.all([a.open(), b.open()]);
      const got: number[] = [];
      b.frames$.subscribe((f) => got.push(f.bytes[0] ?? -1));
      const writer = (i: number) => ({ writeFrame: (target: Uint8Array, at: number) => target.fill(i, at, at + 100) });
      // overflow=wait: 200 frames of 100 bytes fill a 4 KiB ring many times, so most must wait.
      // overflow=lose overwrites instead: 30 (3360 bytes in the ring) fit without lapping the reader.
      const count = overflow === 'wait' ? 200 : 30;
      const sends: Array<void | Promise<void>> = [];
      for (let i = 0; i < count; i++) sends.push(a.sendInPlace(100, writer(i)));
      expect(sends.some((s) => s instanceof Promise)).toBe(overflow === 'wait');
      await Promise.all(sends);
      const deadline = Date.now() + 5000;
      while (got.length < count && Date.now() < deadline) await sleep(10);
      expect(got).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(b.stats().framesLost).toBe(0);
    }
  });

  it('sendInPlace refuses after close and above the frame limit, calling no writer', () => {
    const a = member(url());
    let called = 0;
    const writer = { writeFrame: () => void called++ };
    expect(() => a.sendInPlace(10, writer)).toThrow(ClosedError); // not open yet
    expect(() => a.sendInPlace((16 << 20) + 1, writer)).toThrow();
    expect(called).toBe(0);
  });

  it('overflow=wait: rejects with BufferFullError after waitTimeoutMs when a reader makes no room', async () => {
    const name = `stuck-${process.pid}-${++n}`;
    const a = member(`mmf://${name}?size=4KiB&overflow=wait&waitTimeoutMs=100`);
    await a.open();
    // A reader of this process that never reads: it holds its slot, so the ring fills up.
    const { openPosixRing } = await import('../src/posix/posix-ring-mapping.js');
    const mapping = await openPosixRing({ name, capacity: 4096, scope: 'local', initTimeoutMs: 500 });
    const stuck = new RingReader(SharedRing.attach(mapping.buffer, name), { register: true });
    try {
      const sends: Array<void | Promise<void>> = [];
      for (let i = 0; i < 40; i++) sends.push(a.send(new Uint8Array(100)));
      const results = await Promise.allSettled(sends);
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(rejected.length).toBeGreaterThan(0);
      expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(BufferFullError);
      expect(String((rejected[0] as PromiseRejectedResult).reason.message)).toMatch(/did not make room within 100 ms/);
    } finally {
      stuck.close();
      await mapping.release();
    }
  });

  it('a ring corrupted under an open member ends its frames$ with RingMismatchError instead of throwing from a timer', async () => {
    const name = `corrupt-${process.pid}-${++n}`;
    const a = member(`mmf://${name}?size=4KiB&abandonAfterMs=10&idleCheckMs=20`);
    await a.open();
    const ended = firstValueFrom(a.frames$).then(
      () => 'a frame',
      (err: unknown) => err,
    );
    const { openPosixRing } = await import('../src/posix/posix-ring-mapping.js');
    const mapping = await openPosixRing({ name, capacity: 4096, scope: 'local', initTimeoutMs: 500 });
    try {
      // Something that is not a busway writer moves the cursor off the 16-byte grid, one record on.
      new BigInt64Array(mapping.buffer, 0, 32)[RingOffset.claim >> 3] = BigInt(4096 - 4) | (1n << 32n);
      const err = await ended;
      expect(err).toBeInstanceOf(RingMismatchError);
      expect(String((err as Error).message)).toMatch(/not a multiple of 16/);
      expect(() => a.send(new Uint8Array(8))).toThrow(RingMismatchError); // refused before claiming
    } finally {
      await mapping.release();
    }
  });

  it('overflow=lose: fragments wait for readers, and a plain frame sent meanwhile queues behind them in order', async () => {
    const u = url('size=64KiB');
    const [a, b] = [member(u), member(u)];
    await Promise.all([a.open(), b.open()]);
    const got: number[] = [];
    b.frames$.subscribe((f) => got.push(decodeEnvelope(f.bytes).sequence));
    const frame = (sequence: number, fragmentCount: number): Uint8Array =>
      encodeEnvelope({
        kind: FrameKind.Publish,
        origin: 1,
        sequence,
        topic: 't',
        fragmentIndex: fragmentCount > 1 ? sequence : 0,
        fragmentCount,
        payload: new Uint8Array(16_000),
      });
    // 20 fragments of 16 KB (five times the ring) and a plain frame, sent without waiting.
    const sends = Array.from({ length: 20 }, (_, i) => a.send(frame(i, 20)));
    sends.push(a.send(frame(20, 1)));
    expect(sends.some((s) => s instanceof Promise)).toBe(true); // the ring filled: later ones waited
    await Promise.all(sends);
    const deadline = Date.now() + 5000;
    while (got.length < 21 && Date.now() < deadline) await sleep(10);
    expect(got).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(b.stats().framesLost).toBe(0);
  });

  it('rejects frames above maxFrameSize and sends after close', async () => {
    const t = member(url());
    await t.open();
    expect(() => t.send(new Uint8Array(t.capabilities.maxFrameSize + 1))).toThrow(FrameTooLargeError);
    await t.close();
    expect(() => t.send(new Uint8Array(1))).toThrow(ClosedError);
    await t.close(); // idempotent
  });
});
