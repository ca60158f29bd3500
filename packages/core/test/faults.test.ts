import { lastValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, createBus, MemoryTransport, registerTransport } from '../src/index.js';
import { FaultInjectingTransport, type Faults, randomly } from '../src/testing/index.js';

let n = 0;
const buses: Bus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

/**
 * A receiver on a clean memory transport and a sender whose frames suffer `faults`. The sender's
 * capabilities say unreliable and unordered, as a real lossy medium would.
 */
async function lossyPair(
  faults: Faults,
  query = '',
  receiverOptions: { fragmentTimeout?: number } = {},
): Promise<{ sender: Bus; receiver: Bus; url: string }> {
  n += 1;
  const url = `memory://faults-${n}${query}`;
  const scheme = `faulty-${n}`;
  // A lossy broadcast medium, as UDP or mailslots are: every member sees every frame, and frames
  // may be lost, duplicated or reordered on the way.
  const medium = { reliable: false, ordered: false, broadcast: 'native' } as const;
  registerTransport(
    scheme,
    (_u, ctx) =>
      new FaultInjectingTransport(new MemoryTransport(new URL(url), ctx), { capabilities: medium, ...faults }),
  );
  registerTransport(
    `${scheme}-clean`,
    (_u, ctx) => new FaultInjectingTransport(new MemoryTransport(new URL(url), ctx), { capabilities: medium }),
  );
  const receiver = await createBus({ url: `${scheme}-clean://x`, ...receiverOptions });
  const sender = await createBus(`${scheme}://x`);
  buses.push(receiver, sender);
  await new Promise((r) => setImmediate(r));
  return { sender, receiver, url };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i += 1) await new Promise((r) => setImmediate(r));
};

describe('the bus over a faulty medium', () => {
  it('delivers exactly once under duplication and reordering', async () => {
    const { sender, receiver } = await lossyPair({ duplicate: randomly(0.3, 7), reorder: randomly(0.2, 9) });
    const seen: number[] = [];
    receiver.subscribe<number>('f.x').subscribe((m) => seen.push(m.data));
    await settle();
    for (let i = 0; i < 500; i += 1) await sender.publish('f.x', i);
    await settle();
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(receiver.stats().duplicates).toBeGreaterThan(100);
    expect(receiver.stats().gaps).toBe(0);
  });

  it('counts exactly the frames that were lost once the window moves past them', async () => {
    // Control frames are sent too, so the rule counts publish frames only (kind 1 is byte 3).
    const lost = new Set([10, 11, 500, 999]);
    let publishes = -1;
    const { sender, receiver } = await lossyPair({
      drop: (frame) => {
        if (frame[3] !== 1) return false;
        publishes += 1;
        return lost.has(publishes);
      },
    });
    const seen: number[] = [];
    receiver.subscribe<number>('f.loss').subscribe((m) => seen.push(m.data));
    await settle();
    // Far past the 1024-frame window, so every gap has slid out and been counted.
    for (let i = 0; i < 3000; i += 1) await sender.publish('f.loss', i);
    await settle();
    expect(seen.length).toBe(3000 - lost.size);
    expect(seen.filter((v) => lost.has(v))).toEqual([]);
    expect(receiver.stats().gaps).toBe(lost.size);
  });

  it('drops a corrupted frame and disconnects only its sender', async () => {
    const { sender, receiver, url } = await lossyPair({
      corrupt: (frame) => frame[3] === 1 && frame[frame.length - 1] === 5,
    });
    const seen: number[] = [];
    receiver.subscribe<number>('f.c').subscribe((m) => seen.push(m.data));
    await settle();
    for (let i = 0; i < 20; i += 1) {
      // The memory hub rejects the corrupted frame and disconnects its sender, as a stream hub
      // closes a connection that sends garbage; later publishes then fail with ClosedError.
      const sent = await sender.publish('f.c', i).then(
        () => true,
        () => false,
      );
      await settle();
      if (!sent) break;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    const other = await createBus(url);
    buses.push(other);
    await settle();
    await other.publish('f.c', 99);
    await settle();
    expect(seen).toEqual([0, 1, 2, 3, 4, 99]);
  });

  it('expires an incomplete fragmented message and counts it', async () => {
    const fragmentIndex = (frame: Uint8Array): number => new DataView(frame.buffer, frame.byteOffset).getUint32(24);
    const { sender, receiver } = await lossyPair(
      { drop: (frame) => frame[3] === 1 && fragmentIndex(frame) === 3 },
      '?maxFrameSize=2048',
      { fragmentTimeout: 50 },
    );
    const whole: number[] = [];
    receiver.subscribe<Uint8Array>('f.frag').subscribe((m) => whole.push(m.data.length));
    await settle();
    await sender.publish('f.frag', new Uint8Array(20_000));
    await new Promise((r) => setTimeout(r, 120));
    await sender.publish('f.frag', new Uint8Array(1000));
    await settle();
    expect(whole).toEqual([1000]);
    expect(receiver.stats().fragmentsExpired).toBe(1);
  });

  it('delays frames without losing them', async () => {
    const { sender, receiver } = await lossyPair({ delay: randomly(0.5, 3), delayMs: 5 });
    const got = lastValueFrom(receiver.subscribe<number>('f.d').pipe(take(50), toArray()));
    await settle();
    for (let i = 0; i < 50; i += 1) await sender.publish('f.d', i);
    const values = (await got).map((m) => m.data).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
