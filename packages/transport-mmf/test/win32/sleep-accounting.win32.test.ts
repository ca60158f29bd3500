import { afterEach, describe, expect, it } from 'vitest';
import { createTransport } from '../../src/index.js';
import type { MmfTransport } from '../../src/mmf-transport.js';
import type { RingMapping } from '../../src/ring-mapping.js';
import { RingOffset } from '../../src/ring-layout.js';
import { RingReader } from '../../src/ring-reader.js';
import { SharedRing } from '../../src/shared-ring.js';
import { openWin32Ring } from '../../src/win32/win32-ring-mapping.js';

let n = 0;
const opened: RingMapping[] = [];
const transports: MmfTransport[] = [];
const uniqueName = (): string => `w32-sleep-${process.pid}-${++n}`;
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function open(name: string): Promise<RingMapping> {
  const mapping = await openWin32Ring({ name, capacity: 1 << 16, scope: 'local', initTimeoutMs: 300 });
  opened.push(mapping);
  return mapping;
}

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(opened.splice(0).map((m) => m.release()));
});

describe('Win32 doorbell semaphore: no units left over for readers that are not asleep', () => {
  it('after 20 timed-out sleeps and one publish, the next sleep blocks for its whole timeout', async () => {
    const name = uniqueName();
    const mapping = await open(name);
    const ring = SharedRing.attach(mapping.buffer, name);
    ring.onWake = (sleepers) => mapping.wake(sleepers);
    const reader = new RingReader(ring);
    for (let i = 0; i < 20; i++) await mapping.sleep(() => reader.hasWork(), 10);
    // Each timed-out sleep withdrew its announcement: the publish releases no unit at all.
    expect(Atomics.load(ring.i32, RingOffset.sleepers >> 2)).toBe(0);
    ring.publish(new Uint8Array([1]));
    expect(reader.poll(() => {})).toBe('idle');
    const started = performance.now();
    await mapping.sleep(() => reader.hasWork(), 300);
    // A unit left in the semaphore would end this sleep at once (it did, 20 times in a row).
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('a record committed between the recheck and the wait is rung for: the sleep returns at once', async () => {
    const name = uniqueName();
    const mapping = await open(name);
    const ring = SharedRing.attach(mapping.buffer, name);
    ring.onWake = (sleepers) => mapping.wake(sleepers);
    const started = performance.now();
    await mapping.sleep(() => (ring.publish(new Uint8Array([1])), false), 10_000);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('three transports of one ring in one process cost little CPU around a publish after idle periods (no spinning on leftover units)', async () => {
    const name = uniqueName();
    const members = [1, 2, 3].map((memberId) => {
      const t = createTransport(new URL(`mmf://${name}?size=64KiB`), {
        memberId,
        maxFrameSize: 1 << 16,
        options: { idleCheckMs: 10_000 },
      }) as MmfTransport;
      transports.push(t);
      return t;
    });
    await Promise.all(members.map((m) => m.open()));
    let frames = 0;
    for (const m of members.slice(1)) m.frames$.subscribe(() => frames++);
    const [sender] = members as [MmfTransport];
    // Spread out, so that every publish finds the readers asleep. Each sleep used to announce once
    // per transport (three) for the process's one wait, and timed-out or spurious sleeps never
    // withdrew theirs: every publish released more units than the wait consumed, and the readers
    // spun on the leftovers, more after each publish.
    for (let p = 0; p < 7; p++) {
      await sender.send(new Uint8Array([p]));
      await delay(250);
    }
    const before = process.cpuUsage();
    await sender.send(new Uint8Array([7]));
    await delay(1000);
    const used = process.cpuUsage(before);
    expect(frames).toBe(16);
    // One publish and two deliveries, then idle. Before: 60 to 310 ms per 400 ms after the 5th to
    // 8th publish (one run under Wine).
    expect((used.user + used.system) / 1000).toBeLessThan(50);
  });
});
