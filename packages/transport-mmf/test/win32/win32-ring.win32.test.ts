import { createFileMapping, currentUserSid, mapView, readDacl } from '@busway/win32';
import { afterEach, describe, expect, it } from 'vitest';
import { RingMismatchError } from '../../src/errors.js';
import type { RingMapping } from '../../src/ring-mapping.js';
import { mappingSize } from '../../src/ring-layout.js';
import { RingReader } from '../../src/ring-reader.js';
import { SharedRing } from '../../src/shared-ring.js';
import { poolAnswers, POOL_THREADS, readersAsleep } from '../fixtures/rings-asleep.js';
import { openWin32Ring, win32RingName } from '../../src/win32/win32-ring-mapping.js';

let n = 0;
const opened: RingMapping[] = [];
const uniqueName = (): string => `w32-${process.pid}-${++n}`;

async function open(name: string, capacity = 1 << 16): Promise<RingMapping> {
  const mapping = await openWin32Ring({ name, capacity, scope: 'local', initTimeoutMs: 300 });
  opened.push(mapping);
  return mapping;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((m) => m.release()));
});

describe('Win32 file-mapping ring', () => {
  it('names the mapping in the Local\\ namespace and grants the current user (and SYSTEM) only', async () => {
    const name = uniqueName();
    await open(name);
    expect(win32RingName(name, 'local')).toBe(`Local\\busway-mmf-${name}`);
    // Opening the same name again hands back the existing object: read its DACL back.
    const { handle, existed } = createFileMapping(win32RingName(name, 'local'), mappingSize(1 << 16));
    try {
      expect(existed).toBe(true);
      const dacl = readDacl(handle);
      const sids = [...dacl.matchAll(/\(A;[^;]*;[^;]*;[^;]*;[^;]*;([^)]+)\)/g)].map((m) => m[1]);
      expect(dacl.startsWith('D:P')).toBe(true);
      expect(new Set(sids)).toEqual(new Set(['SY', currentUserSid()]));
    } finally {
      handle.close();
    }
  });

  it('two mappings of one name share the ring: a record written through one is read through the other', async () => {
    const name = uniqueName();
    const a = await open(name);
    const reader = new RingReader(SharedRing.attach(a.buffer, name));
    // A second, independent view of the same object (as another process would map it).
    const { handle } = createFileMapping(win32RingName(name, 'local'), mappingSize(1 << 16));
    const view = mapView(handle, mappingSize(1 << 16));
    try {
      SharedRing.attach(view.buffer, name).publish(new Uint8Array([7, 8, 9]));
      const got: number[][] = [];
      reader.poll((bytes) => got.push([...bytes]));
      expect(got).toEqual([[7, 8, 9]]);
    } finally {
      view.unmap();
      handle.close();
    }
  });

  it('a sleeping reader is released by the doorbell semaphore, without blocking the event loop', async () => {
    const name = uniqueName();
    const mapping = await open(name);
    const ring = SharedRing.attach(mapping.buffer, name);
    ring.onWake = (sleepers) => mapping.wake(sleepers);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    const slept = mapping.sleep(() => false, 10_000);
    setTimeout(() => ring.publish(new Uint8Array([1])), 100);
    await slept;
    clearInterval(timer);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(ticks).toBeGreaterThan(3); // the loop ran while the wait was pending
  });

  it("readers asleep on many rings share one waiter thread, so libuv's thread pool stays free for fs", async () => {
    // One more ring than the pool has threads, each with a reader asleep for up to 10 s: with a
    // wait of its own per ring, this stat would queue behind them for that long.
    const asleep = await readersAsleep(POOL_THREADS + 2, uniqueName, (name) => open(name), 10_000);
    expect(await poolAnswers(3000)).toBe('done');
    // Every reader is still woken by its own ring's doorbell.
    for (const { ring } of asleep) ring.publish(new Uint8Array([1]));
    await Promise.all(asleep.map((a) => a.slept));
  });

  it('refuses a squatted name (another program’s mapping) and leaves its bytes untouched', async () => {
    const name = uniqueName();
    const { handle } = createFileMapping(win32RingName(name, 'local'), mappingSize(1 << 16));
    const view = mapView(handle, mappingSize(1 << 16));
    try {
      new Uint8Array(view.buffer).fill(0x5a);
      const before = new Uint8Array(view.buffer).slice();
      await expect(open(name)).rejects.toThrow(RingMismatchError);
      expect(new Uint8Array(view.buffer)).toEqual(before);
      // and a ring of another size
      const other = uniqueName();
      await open(other, 1 << 16);
      await expect(open(other, 1 << 17)).rejects.toThrow(RingMismatchError);
    } finally {
      view.unmap();
      handle.close();
    }
  });
});
