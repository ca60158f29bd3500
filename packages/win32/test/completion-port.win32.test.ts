import { afterAll, describe, expect, it } from 'vitest';
import type { Win32Handle } from '../src/index.js';
import {
  CompletionPort,
  Win32Error,
  createEvent,
  createNamedPipe,
  createSemaphore,
  getNamedPipeClientProcessId,
  openHandles,
  openNamedPipe,
  setEvent,
  waitForSingleObject,
} from '../src/index.js';
import { kernel32 } from '../src/internal.js';
import { uniqueName } from './helpers.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A connected server/client pair of one pipe instance, both overlapped and message mode. */
async function connectedPair(port: CompletionPort): Promise<{ server: Win32Handle; client: Win32Handle }> {
  const name = uniqueName('pair');
  const server = createNamedPipe(name);
  const connected = port.connect(server);
  const client = openNamedPipe(name);
  await connected;
  return { server, client };
}

describe('CompletionPort: overlapped I/O through the pump', () => {
  it('reads and writes messages both ways, and identifies the client process', async () => {
    const port = new CompletionPort();
    const { server, client } = await connectedPair(port);
    try {
      const pendingRead = port.read(server, 1024);
      expect(port.stats.pending).toBe(1);
      expect(await port.write(client, utf8('hello server'))).toBe(12);
      const got = await pendingRead;
      expect(text(got.bytes)).toBe('hello server');
      expect(got.moreData).toBe(false);

      // Two writes arrive as two messages (message mode), in order.
      await port.write(server, utf8('one'));
      await port.write(server, utf8('two'));
      expect(text((await port.read(client, 1024)).bytes)).toBe('one');
      expect(text((await port.read(client, 1024)).bytes)).toBe('two');

      expect(getNamedPipeClientProcessId(server)).toBe(process.pid);
      expect(port.stats.maxWaitsInFlight).toBe(1);
      expect(port.stats.completions).toBeGreaterThanOrEqual(6);
    } finally {
      client.close();
      server.close();
      await port.close();
    }
  });

  it('delivers a message longer than the buffer in parts, flagged moreData', async () => {
    const port = new CompletionPort();
    const { server, client } = await connectedPair(port);
    try {
      await port.write(client, utf8('0123456789abcdef-tail'));
      const first = await port.read(server, 16);
      expect(first).toMatchObject({ moreData: true });
      expect(text(first.bytes)).toBe('0123456789abcdef');
      const rest = await port.read(server, 16);
      expect(rest.moreData).toBe(false);
      expect(text(rest.bytes)).toBe('-tail');
    } finally {
      client.close();
      server.close();
      await port.close();
    }
  });

  it('resolves a connect at once when the client connected first (ERROR_PIPE_CONNECTED)', async () => {
    const port = new CompletionPort();
    const name = uniqueName('early');
    const server = createNamedPipe(name);
    const client = openNamedPipe(name);
    try {
      await port.connect(server);
      await port.write(client, utf8('x'));
      expect(text((await port.read(server, 8)).bytes)).toBe('x');
    } finally {
      client.close();
      server.close();
      await port.close();
    }
  });

  it('cancels a pending read through an AbortSignal with ERROR_OPERATION_ABORTED', async () => {
    const port = new CompletionPort();
    const { server, client } = await connectedPair(port);
    try {
      const controller = new AbortController();
      const read = port.read(server, 64, { signal: controller.signal });
      controller.abort();
      await expect(read).rejects.toMatchObject({ name: 'Win32Error', symbol: 'ERROR_OPERATION_ABORTED' });
      expect(port.stats.pending).toBe(0);
      // The pipe is still usable afterwards.
      await port.write(client, utf8('after'));
      expect(text((await port.read(server, 64)).bytes)).toBe('after');
    } finally {
      client.close();
      server.close();
      await port.close();
    }
  });

  it('rejects a pending read with ERROR_BROKEN_PIPE when the other end closes', async () => {
    const port = new CompletionPort();
    const { server, client } = await connectedPair(port);
    try {
      const read = port.read(server, 64);
      client.close();
      const error = await read.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(Win32Error);
      expect((error as Win32Error).symbol).toBe('ERROR_BROKEN_PIPE');
    } finally {
      server.close();
      await port.close();
    }
  });

  it('close() cancels what is pending, waits for it, and leaves nothing open', async () => {
    const port = new CompletionPort();
    const { server, client } = await connectedPair(port);
    const read = port.read(server, 64);
    await port.close();
    await expect(read).rejects.toMatchObject({ symbol: 'ERROR_OPERATION_ABORTED' });
    await expect(port.read(server, 64)).rejects.toMatchObject({ code: 'CLOSED' });
    client.close();
    server.close();
  });

  it('settles every operation of a batch once when its callbacks start operations that complete meanwhile', async () => {
    // Regression: a callback that started an operation used to issue the next wait while the
    // batch was still being settled; that wait wrote its packets over the entries not read yet,
    // so one completion was lost (under Wine, a pipe link's write: it never flushed again) and
    // another was settled twice (the second time reported as BUSWAY_STRAY_COMPLETION).
    const port = new CompletionPort();
    const a = await connectedPair(port);
    const b = await connectedPair(port);
    const strays: string[] = [];
    const onWarning = (warning: Error & { code?: string }): void => {
      if (warning.code === 'BUSWAY_STRAY_COMPLETION') strays.push(warning.message);
    };
    process.on('warning', onWarning);
    // A batch of two, for certain: the 4 libuv worker threads are kept busy, so the pump's wait
    // only runs once both cancellations are queued.
    expect(process.env.UV_THREADPOOL_SIZE ?? '4').toBe('4');
    const go = createEvent({ manualReset: true });
    const k32 = kernel32();
    const busy = [0, 1, 2, 3].map(
      () =>
        new Promise<number>((resolve, reject) =>
          k32.WaitForSingleObject.async(go.value, 10_000, (err: unknown, result: number) =>
            err ? reject(err) : resolve(result),
          ),
        ),
    );
    try {
      const settled: string[] = [];
      let firstBatch = 0;
      const all = new Promise<void>((resolve) => {
        const settle = (name: string, error: Error | undefined): void => {
          settled.push(`${name}:${error instanceof Win32Error ? error.symbol : String(error)}`);
          if (settled.length === 1) {
            firstBatch = port.stats.largestBatch;
            // Start two reads and cancel them: their packets are queued at once. Then hold the
            // main thread, as a slow callback would, long enough for a wait issued meanwhile to
            // return them.
            port.startRead(b.server, 64, (e) => settle('b1', e));
            port.startRead(b.server, 64, (e) => settle('b2', e));
            port.cancel(b.server);
            const until = performance.now() + 100;
            while (performance.now() < until);
          }
          if (settled.length === 4) resolve();
        };
        port.startRead(a.server, 64, (e) => settle('a1', e));
        port.startRead(a.server, 64, (e) => settle('a2', e));
        port.cancel(a.server);
      });
      await new Promise((r) => setTimeout(r, 50));
      setEvent(go);
      await Promise.all(busy);
      await Promise.race([all, new Promise((r) => setTimeout(r, 5_000))]);
      // Give a packet delivered twice the time to arrive and be reported.
      await port.read(b.client, 64, { signal: AbortSignal.timeout(200) }).catch(() => undefined);
      expect(firstBatch).toBe(2);
      expect(settled.sort()).toEqual([
        'a1:ERROR_OPERATION_ABORTED',
        'a2:ERROR_OPERATION_ABORTED',
        'b1:ERROR_OPERATION_ABORTED',
        'b2:ERROR_OPERATION_ABORTED',
      ]);
      expect(strays).toEqual([]);
      expect(port.stats.pending).toBe(0);
    } finally {
      process.off('warning', onWarning);
      setEvent(go);
      go.close();
      a.client.close();
      a.server.close();
      b.client.close();
      b.server.close();
      // Bounded: with a completion lost, close() would wait for it forever; fail on the asserts.
      await Promise.race([port.close(), new Promise((r) => setTimeout(r, 2_000))]);
    }
  });
});

describe('CompletionPort at scale', () => {
  it('keeps 500 overlapped reads pending on 500 pipe instances with one blocked thread and a punctual timer', async () => {
    const INSTANCES = 500;
    const port = new CompletionPort();
    const name = uniqueName('many');
    const servers: Win32Handle[] = [];
    const clients: Win32Handle[] = [];
    try {
      for (let i = 0; i < INSTANCES; i += 1) {
        const server = createNamedPipe(name, { firstInstance: i === 0 });
        servers.push(server);
      }
      const connects = servers.map((server) => port.connect(server));
      for (let i = 0; i < INSTANCES; i += 1) clients.push(openNamedPipe(name));
      await Promise.all(connects);

      // 500 reads, all pending: nothing has been written yet.
      const reads = servers.map((server) => port.read(server, 256));
      expect(port.stats.pending).toBe(INSTANCES);

      // A 10 ms timer on the main thread; lateness is how far each tick is behind schedule.
      const period = 10;
      let maxLateness = 0;
      let ticks = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxLateness = Math.max(maxLateness, now - last - period);
        last = now;
        ticks += 1;
      }, period);

      // Thread accounting. The pump issues one GetQueuedCompletionStatusEx at a time (its
      // counter maxWaitsInFlight proves it), so at most one libuv worker thread is blocked for
      // all 500 reads. To show that from the outside, not just from our own counter: libuv has
      // 4 worker threads (UV_THREADPOOL_SIZE unset), and three more blocking koffi async calls
      // must be able to run *at the same time* as the pump's wait. Each releases a semaphore
      // and then blocks on an event; the main thread sets the event only once it has seen all
      // three releases. If the pump (or anything) held more than one thread, the third call
      // could not start, the barrier would never fill and the test would fail.
      expect(process.env.UV_THREADPOOL_SIZE ?? '4').toBe('4');
      const arrived = createSemaphore({ maximumCount: 3 });
      const go = createEvent({ manualReset: true });
      const k32 = kernel32();
      const blockers = [0, 1, 2].map(
        () =>
          new Promise<number>((resolve, reject) =>
            k32.SignalObjectAndWait.async(arrived.value, go.value, 10_000, 0, (err: unknown, result: number) =>
              err ? reject(err) : resolve(result),
            ),
          ),
      );
      let seen = 0;
      const barrierStart = performance.now();
      while (seen < 3 && performance.now() - barrierStart < 5_000) {
        if (waitForSingleObject(arrived, 0) === 'signaled') seen += 1;
        else await new Promise((r) => setTimeout(r, 5));
      }
      expect(seen).toBe(3);
      setEvent(go);
      expect(await Promise.all(blockers)).toEqual([0, 0, 0]);
      arrived.close();
      go.close();

      // Keep everything pending a while longer, with the timer running.
      await new Promise((r) => setTimeout(r, 500));
      expect(port.stats.pending).toBe(INSTANCES);
      expect(port.stats.waitsInFlight).toBe(1);

      const pendingLateness = maxLateness;

      // Now answer them all and collect the 500 messages. The 500 WriteFile calls are the
      // test's own main-thread work; issue them in slices so they do not hog the loop either.
      const writes: Promise<number>[] = [];
      for (let i = 0; i < INSTANCES; i += 1) {
        writes.push(port.write(clients[i] as Win32Handle, utf8(`message ${i}`)));
        if (i % 25 === 24) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(writes);
      const results = await Promise.all(reads);
      clearInterval(timer);
      expect(results.map((r) => text(r.bytes))).toEqual(servers.map((_, i) => `message ${i}`));

      const stats = port.stats;
      console.log(
        `500 pending reads: timer max lateness ${pendingLateness.toFixed(1)} ms while pending, ${maxLateness.toFixed(1)} ms overall, ${ticks} ticks; ` +
          `${stats.waits} waits, ${stats.completions} completions, largest batch ${stats.largestBatch}, max waits in flight ${stats.maxWaitsInFlight}`,
      );
      expect(stats.maxWaitsInFlight).toBe(1);
      expect(stats.largestBatch).toBeGreaterThan(1);
      expect(ticks).toBeGreaterThan(30);
      // Had anything blocked the main thread while the reads were pending (>= 500 ms), the
      // lateness would be at least that; 100 ms leaves room for a loaded CI machine.
      expect(pendingLateness).toBeLessThan(100);
      // Delivering 500 completions is main-thread work too, but in batches, not one long stall.
      expect(maxLateness).toBeLessThan(250);
    } finally {
      for (const h of [...clients, ...servers]) h.close();
      await port.close();
    }
  });
});

afterAll(() => {
  expect(openHandles()).toEqual([]);
});
