import { afterAll, describe, expect, it } from 'vitest';
import {
  HandleWaiter,
  type Win32Handle,
  createEvent,
  createSemaphore,
  kernelObjectName,
  openHandles,
  releaseSemaphore,
  setEvent,
} from '../src/index.js';
import { runPeer, uniqueName } from './helpers.js';

describe('HandleWaiter', () => {
  it('waits on 40 events at once with one background wait, each settling only when its event is set', async () => {
    const waiter = new HandleWaiter();
    const events: Win32Handle[] = [];
    try {
      for (let i = 0; i < 40; i += 1) events.push(createEvent({ manualReset: false }));
      const settledOrder: number[] = [];
      const waits = events.map((event, i) =>
        waiter.wait(event).then((result) => {
          settledOrder.push(i);
          return result;
        }),
      );
      expect(waiter.stats.pending).toBe(40);
      await new Promise((r) => setTimeout(r, 50));
      expect(settledOrder).toEqual([]);
      // Set them in a scrambled order, one per macrotask, and check each wait follows its event.
      const order = events.map((_, i) => (i * 17) % 40);
      for (const i of order) {
        setEvent(events[i] as Win32Handle);
        for (let spin = 0; spin < 200 && !settledOrder.includes(i); spin += 1)
          await new Promise((r) => setTimeout(r, 2));
      }
      expect(await Promise.all(waits)).toEqual(events.map(() => 'signaled'));
      expect(settledOrder).toEqual(order);
      expect(waiter.stats.maxWaitsInFlight).toBe(1);
      expect(waiter.stats.pending).toBe(0);
    } finally {
      for (const event of events) event.close();
      await waiter.close();
    }
  });

  it('times out, aborts, and keeps serving the other waits', async () => {
    const waiter = new HandleWaiter();
    const a = createEvent();
    const b = createEvent();
    try {
      const started = performance.now();
      expect(await waiter.wait(a, { timeoutMs: 60 })).toBe('timeout');
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);

      const controller = new AbortController();
      const aborted = waiter.wait(a, { signal: controller.signal });
      const other = waiter.wait(b, { timeoutMs: 5_000 });
      controller.abort(new Error('no longer needed'));
      await expect(aborted).rejects.toThrow('no longer needed');
      setEvent(b);
      expect(await other).toBe('signaled');
    } finally {
      a.close();
      b.close();
      await waiter.close();
    }
  });

  it('takes one semaphore count per wait', async () => {
    const waiter = new HandleWaiter();
    const items = createSemaphore({ maximumCount: 10 });
    try {
      const waits = [waiter.wait(items), waiter.wait(items), waiter.wait(items, { timeoutMs: 300 })];
      releaseSemaphore(items, 2);
      expect(await Promise.all(waits)).toEqual(['signaled', 'signaled', 'timeout']);
    } finally {
      items.close();
      await waiter.close();
    }
  });

  it('sees an event set by another process', async () => {
    const waiter = new HandleWaiter();
    const ping = uniqueName('wping');
    const pong = uniqueName('wpong');
    const hPing = createEvent({ name: ping, manualReset: false });
    const hPong = createEvent({ name: pong, manualReset: false });
    try {
      const child = runPeer('event-ping-pong', kernelObjectName(ping), kernelObjectName(pong));
      expect(await waiter.wait(hPing, { timeoutMs: 20_000 })).toBe('signaled');
      setEvent(hPong);
      expect(await child).toBe(0);
    } finally {
      hPing.close();
      hPong.close();
      await waiter.close();
    }
  });

  it('close() rejects pending waits with ClosedError and closes its wake event', async () => {
    const waiter = new HandleWaiter();
    const event = createEvent();
    const pending = waiter.wait(event).catch((err: unknown) => err);
    await waiter.close();
    expect(await pending).toMatchObject({ name: 'ClosedError', code: 'CLOSED' });
    await expect(waiter.wait(event)).rejects.toMatchObject({ code: 'CLOSED' });
    event.close();
  });
});

afterAll(() => {
  expect(openHandles()).toEqual([]);
});
