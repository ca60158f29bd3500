/**
 * The conformance suite: the single definition of "a transport works". Every transport package
 * calls {@link describeConformance} from a test file; the memory transport runs the in-process
 * part in core's own tests.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, lastValueFrom, NEVER, Observable, take, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../bus.js';
import { createBus } from '../create-bus.js';
import { ClosedError, ConnectionLostError, PeerLostError, TimeoutError } from '../errors.js';
import type { Message } from '../message.js';
import { registerTransport, resolveTransport } from '../registry.js';
import { FaultInjectingTransport } from './fault-injecting-transport.js';

/** How a transport package runs the suite. */
export interface ConformanceOptions {
  /** Shown in test names, for example `tcp`. */
  readonly name: string;
  /** A fresh bus URL for one test; every member of that test joins it. */
  newUrl(): string;
  /** `transportOptions` for every member. Default: none. */
  readonly options?: Readonly<Record<string, unknown>>;
  /**
   * Run the parts that need a second OS process (pub/sub and request/reply across processes, a
   * peer killed mid-request). The child runs core's built JavaScript, so `tsc -b` must have run.
   * Default: true.
   */
  readonly processes?: boolean;
  /** Milliseconds any one wait in the suite may take. Default: 10 000. */
  readonly waitMs?: number;
}

let registrations = 0;

/** Where the child script lives: beside this file once built, in dist/ when running from source. */
function childScript(): string {
  const here = fileURLToPath(import.meta.url);
  const built = here.replace(/[\\/]src[\\/]testing[\\/]conformance\.ts$/, (m) =>
    m.replace('src', 'dist').replace('conformance.ts', 'conformance-child.js'),
  );
  const path = built === here ? here.replace(/conformance\.js$/, 'conformance-child.js') : built;
  if (!existsSync(path)) {
    throw new Error(`conformance child ${path} is missing: build the packages first (pnpm build)`);
  }
  return path;
}

/**
 * Define the conformance tests for one transport.
 *
 * @example
 * ```ts
 * // packages/transport-socket/test/conformance.test.ts
 * import { describeConformance } from '@busway/core/testing';
 * let port = 17400;
 * describeConformance({ name: 'tcp', newUrl: () => `tcp://127.0.0.1:${port++}` });
 * ```
 */
export function describeConformance(options: ConformanceOptions): void {
  const waitMs = options.waitMs ?? 10_000;
  const transportOptions = options.options ?? {};
  const members: Bus[] = [];

  async function join(url: string): Promise<Bus> {
    const bus = await createBus({ url, transportOptions });
    members.push(bus);
    return bus;
  }

  /** Two members on a fresh URL; the second has shown interest once `ready` resolves. */
  async function pair(): Promise<[Bus, Bus]> {
    const url = options.newUrl();
    const a = await join(url);
    const b = await join(url);
    return [a, b];
  }

  /**
   * Wait until what `b` announced (subscriptions, handlers) has reached the member routing `a`'s
   * frames: a request from `b` to `a` travels behind `b`'s interest frames on ordered transports,
   * so its answer proves they arrived. Retried, because `a`'s own handler announcement may still be
   * on its way.
   */
  async function interestReached(a: Bus, b: Bus): Promise<void> {
    const topic = `conf.probe.${b.id}`;
    const off = a.handle(topic, () => true);
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        try {
          await firstValueFrom(b.request(topic, null, { timeout: 500 }));
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } finally {
      off();
    }
  }

  function received<T>(bus: Bus, pattern: string, count: number): { done: Promise<Message<T>[]> } {
    const done = firstValueFrom(
      bus.subscribe<T>(pattern).pipe(take(count), toArray(), withTimeout(waitMs, `${count} messages on ${pattern}`)),
    );
    return { done };
  }

  describe(`${options.name} conformance`, () => {
    afterEach(async () => {
      await Promise.all(members.splice(0).map((m) => m.close().catch(() => undefined)));
    });

    it('delivers publish/subscribe between two members', async () => {
      const [a, b] = await pair();
      const got = received<{ n: number }>(b, 'conf.basic', 1);
      await interestReached(a, b);
      await a.publish('conf.basic', { n: 1 }, { headers: { traceparent: '00-conf' } });
      const [m] = await got.done;
      expect(m?.data).toEqual({ n: 1 });
      expect(m?.headers.traceparent).toBe('00-conf');
      expect(m?.sender.member).toBe(a.id);
    });

    it('matches * and > wildcards', async () => {
      const [a, b] = await pair();
      const star: string[] = [];
      b.subscribe('conf.w.*').subscribe((m) => star.push(m.topic));
      const all = received(b, 'conf.w.>', 2);
      await interestReached(a, b);
      await a.publish('conf.w.one', 1);
      await a.publish('conf.w.two.deep', 2);
      await a.publish('conf.other', 3);
      expect((await all.done).map((m) => m.topic)).toEqual(['conf.w.one', 'conf.w.two.deep']);
      expect(star).toEqual(['conf.w.one']);
    });

    it('delivers 10 000 messages from one sender exactly once, in order where the transport is ordered', async () => {
      const [a, b] = await pair();
      const total = 10_000;
      const got = received<number>(b, 'conf.seq', total);
      await interestReached(a, b);
      for (let i = 0; i < total; i += 1) {
        await a.publish('conf.seq', i);
        // An unreliable medium drops what its receive buffer cannot hold: pace the sender.
        if (!a.capabilities.reliable && i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
      }
      const values = (await got.done).map((m) => m.data);
      if (a.capabilities.ordered) {
        expect(values).toEqual(Array.from({ length: total }, (_, i) => i));
      } else {
        expect(new Set(values).size).toBe(total);
      }
      expect(b.stats().duplicates).toBe(0);
    });

    it('carries a 10 MiB message', async () => {
      const [a, b] = await pair();
      const big = new Uint8Array(10 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
      const got = received<Uint8Array>(b, 'conf.big', 1);
      await interestReached(a, b);
      await a.publish('conf.big', big);
      const [m] = await got.done;
      expect(m?.data).toBeInstanceOf(Uint8Array);
      expect(Buffer.compare(Buffer.from(m?.data as Uint8Array), Buffer.from(big))).toBe(0);
    });

    it('delivers a burst from a third member intact to the others, even when kept past delivery', async () => {
      // A transport may read into a buffer it reuses (shared memory does, a stream socket read
      // through `onread` does), and a hub keeps the frames it forwards until the end of the turn.
      // Many frames per read, kept by every receiver past its callback, show whether any byte of
      // a delivered or forwarded frame was overwritten by a later read. The sender joins last, so
      // on hub transports its frames pass through the hub (the first member) to the second.
      const url = options.newUrl();
      const [a, b, c] = [await join(url), await join(url), await join(url)];
      const total = 3000;
      const payloadOf = (i: number): Uint8Array =>
        new Uint8Array(100 + (i % 301)).map((_, j) => (i * 31 + j * 7 + (i >> 8)) & 0xff);
      const atA = received<Uint8Array>(a, 'conf.burst.*', total);
      const atB = received<Uint8Array>(b, 'conf.burst.*', total);
      await interestReached(c, a);
      await interestReached(c, b);
      const paced = !c.capabilities.reliable;
      for (let i = 0; i < total;) {
        // Published without waiting for each: the sender's frames leave in batches, so the
        // receivers read many of them at once.
        const batch: Promise<void>[] = [];
        for (const end = Math.min(total, i + (paced ? 50 : 500)); i < end; i += 1) {
          batch.push(c.publish(`conf.burst.${i % 7}`, payloadOf(i), { headers: { n: String(i) } }));
        }
        await Promise.all(batch);
        if (paced) await new Promise((r) => setTimeout(r, 1));
      }
      for (const messages of [await atA.done, await atB.done]) {
        const byIndex = new Map(messages.map((m) => [Number(m.headers['n']), m]));
        expect(byIndex.size).toBe(total);
        for (let i = 0; i < total; i += 1) {
          const m = byIndex.get(i);
          expect(m?.topic).toBe(`conf.burst.${i % 7}`);
          const data = m?.data as Uint8Array;
          if (Buffer.compare(Buffer.from(data), Buffer.from(payloadOf(i))) !== 0) {
            expect.fail(`message ${i} of the burst arrived altered`);
          }
        }
      }
    });

    it('streams replies and completes with the handler', async () => {
      const [a, b] = await pair();
      a.handle<number, number>(
        'conf.rr.stream',
        (req) =>
          new Observable<number>((o) => {
            for (let i = 0; i < req.data; i += 1) o.next(i);
            o.complete();
          }),
      );
      await interestReached(a, b);
      const replies = await lastValueFrom(b.request<number>('conf.rr.stream', 5, { timeout: waitMs }).pipe(toArray()));
      expect(replies).toEqual([0, 1, 2, 3, 4]);
    });

    it("carries the handler's error name, message and code", async () => {
      const [a, b] = await pair();
      a.handle('conf.rr.fail', () => {
        throw Object.assign(new TypeError('no such sku'), { code: 'E_SKU' });
      });
      await interestReached(a, b);
      const err = await firstValueFrom(b.request('conf.rr.fail', 1, { timeout: waitMs })).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'TypeError', message: 'no such sku', code: 'E_SKU' });
    });

    it("cancels the handler's stream when the requester unsubscribes", async () => {
      const [a, b] = await pair();
      let stopped!: () => void;
      const handlerStopped = new Promise<void>((r) => (stopped = r));
      a.handle(
        'conf.rr.endless',
        () =>
          new Observable<number>((o) => {
            let n = 0;
            const timer = setInterval(() => o.next(n++), 2);
            return () => {
              clearInterval(timer);
              stopped();
            };
          }),
      );
      await interestReached(a, b);
      const first = await lastValueFrom(
        b.request<number>('conf.rr.endless', null, { timeout: waitMs }).pipe(take(3), toArray()),
      );
      expect(first).toEqual([0, 1, 2]);
      await withDeadline(handlerStopped, waitMs, 'the handler was never cancelled');
    });

    it('times out a request whose handler never answers', async () => {
      const [a, b] = await pair();
      a.handle('conf.rr.silent', () => NEVER);
      await interestReached(a, b);
      const err = await firstValueFrom(b.request('conf.rr.silent', 1, { timeout: 300 })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
    });

    it('delivers each message once when the medium duplicates every frame', async () => {
      const url = options.newUrl();
      const scheme = new URL(url).protocol.slice(0, -1);
      const real = await resolveTransport(scheme);
      registrations += 1;
      const dupScheme = `conf-dup-${registrations}`;
      registerTransport(
        dupScheme,
        async (_ignored, ctx) => new FaultInjectingTransport(await real(new URL(url), ctx), { duplicate: () => true }),
      );
      const b = await join(url);
      const a = await createBus({ url: `${dupScheme}://x`, transportOptions });
      members.push(a);
      const got = received<number>(b, 'conf.dup', 20);
      await interestReached(a, b);
      for (let i = 0; i < 20; i += 1) await a.publish('conf.dup', i);
      const values = (await got.done).map((m) => m.data);
      expect(new Set(values).size).toBe(20);
      // Let the duplicates of the last frames arrive before counting them.
      await a.publish('conf.dup.fence', 0);
      await waitUntil(() => b.stats().duplicates >= 20, waitMs, 'duplicates were not counted');
      expect(b.stats().duplicates).toBeGreaterThanOrEqual(20);
    });

    it('drops a garbage frame without harming the other members', async () => {
      const url = options.newUrl();
      const [a, b] = [await join(url), await join(url)];
      const got = received<string>(b, 'conf.after-garbage', 1);
      await interestReached(a, b);
      const scheme = new URL(url).protocol.slice(0, -1);
      const raw = await (
        await resolveTransport(scheme)
      )(new URL(url), {
        memberId: 0x1234,
        maxFrameSize: 1024 * 1024,
        options: transportOptions,
      });
      await raw.open();
      const garbage = new Uint8Array(200).map((_, i) => (i * 7919) & 0xff);
      const before = rejections([a, b]);
      let refused = false;
      let cutOff = false;
      const watch = raw.state$.subscribe((state) => (cutOff ||= state !== 'open' && state !== 'connecting'));
      try {
        await raw.send(garbage);
      } catch {
        // A transport may refuse to send what is not an envelope: that is fine too.
        refused = true;
      }
      // Delivered to no one is not enough: it must have been rejected, either counted by whoever
      // saw it (the bus, a receiving transport, a hub's router) or by closing the sender's
      // connection, as a stream transport does when its decoder rejects a frame.
      if (!refused) {
        await waitUntil(
          () => cutOff || rejections([a, b]) > before,
          waitMs,
          'the garbage frame was neither counted as rejected nor did it cut its sender off',
        );
      }
      watch.unsubscribe();
      await raw.close();
      await a.publish('conf.after-garbage', 'still here');
      expect((await got.done)[0]?.data).toBe('still here');
    });

    it('closes cleanly: subscriptions complete, pending requests and later publishes fail', async () => {
      const [a, b] = await pair();
      a.handle('conf.rr.hang', () => NEVER);
      await interestReached(a, b);
      let completed = false;
      b.subscribe('conf.closing').subscribe({ complete: () => (completed = true) });
      const pending = firstValueFrom(b.request('conf.rr.hang', 1, { timeout: waitMs })).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 20));
      await b.close();
      expect(completed).toBe(true);
      expect(await pending).toBeInstanceOf(ClosedError);
      await expect(b.publish('conf.closing', 1)).rejects.toBeInstanceOf(ClosedError);
    });

    // Not registered at all (rather than skipped) for in-process transports such as memory://.
    if (options.processes ?? true)
      describe('across OS processes', () => {
        let url: string;
        let parent: Bus;
        let child: ChildProcess | undefined;
        let childPid: Promise<number>;

        beforeAll(async () => {
          url = options.newUrl();
          parent = await createBus({ url, transportOptions });
          let ready!: (pid: number) => void;
          childPid = new Promise<number>((r) => (ready = r));
          parent.handle<number, boolean>('conf.ready', (req) => {
            ready(req.data);
            return true;
          });
          child = spawn(process.execPath, [childScript(), url, JSON.stringify(transportOptions)], {
            stdio: ['ignore', 'ignore', 'inherit'],
          });
          await withDeadline(childPid, waitMs * 3, 'the child process never joined the bus');
        }, waitMs * 4);

        afterAll(async () => {
          if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await parent?.close();
        });

        it('delivers publish/subscribe to and from another process', async () => {
          const got = received<{ i: number }>(parent, 'conf.out.>', 3);
          for (let i = 0; i < 3; i += 1) await parent.publish(`conf.in.p${i}`, { i });
          const messages = await got.done;
          expect(messages.map((m) => [m.topic, m.data.i])).toEqual([
            ['conf.out.p0', 0],
            ['conf.out.p1', 1],
            ['conf.out.p2', 2],
          ]);
          expect(messages[0]?.sender.member).not.toBe(parent.id);
        });

        it('streams replies from a handler in another process', async () => {
          const replies = await lastValueFrom(
            parent.request<number>('conf.stream', 4, { timeout: waitMs }).pipe(toArray()),
          );
          expect(replies).toEqual([0, 1, 2, 3]);
          expect(await firstValueFrom(parent.request('conf.pid', null, { timeout: waitMs }))).toBe(await childPid);
        });

        it('errors a request, never hangs, when the handling process is killed mid-request', async () => {
          const timeout = 3000;
          const outcome = firstValueFrom(parent.request('conf.hang', null, { timeout })).catch((e: unknown) => e);
          await new Promise((r) => setTimeout(r, 200)); // the child has acked
          child?.kill('SIGKILL');
          const started = Date.now();
          const err = await withDeadline(outcome, timeout + waitMs, 'the request hung after its peer died');
          const knowsPeers = parent.capabilities.broadcast === 'hub';
          if (knowsPeers) {
            // A hub sees the connection drop and says so at once.
            expect(err).toBeInstanceOf(PeerLostError);
            expect(Date.now() - started).toBeLessThan(timeout);
          } else {
            expect([PeerLostError, TimeoutError, ConnectionLostError].some((c) => err instanceof c)).toBe(true);
          }
        });
      });
  });
}

function withTimeout<T>(ms: number, what: string) {
  return (source: Observable<T>): Observable<T> =>
    new Observable<T>((observer) => {
      const timer = setTimeout(() => observer.error(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      const sub = source.subscribe(observer);
      return () => {
        clearTimeout(timer);
        sub.unsubscribe();
      };
    });
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The counters, in `bus.stats()`, under which the bus or a transport counts a frame it rejected:
 * the bus's own, memory's and the hubs' (`badFrames`), udp's (`malformed`), mailslot's
 * (`datagramsGarbage`). A transport reports only its own; the others are absent and count as 0.
 */
const REJECTION_COUNTERS = ['badFrames', 'transport.badFrames', 'transport.malformed', 'transport.datagramsGarbage'];

/** Frames rejected as malformed so far, summed over `members` and {@link REJECTION_COUNTERS}. */
function rejections(members: readonly Bus[]): number {
  let total = 0;
  for (const member of members) {
    const stats = member.stats() as unknown as Record<string, number | undefined>;
    for (const name of REJECTION_COUNTERS) total += stats[name] ?? 0;
  }
  return total;
}

async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((r) => setTimeout(r, 5));
  }
}
