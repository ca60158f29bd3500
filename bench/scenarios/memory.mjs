/**
 * busway through the in-process memory transport: publish → subscriber callback with a 64-byte
 * msgpack payload (goal: at least 1 000 000 messages/s) and request → reply round trip (goal:
 * under 5 µs), each against the floor of an rxjs Subject carrying the same msgpack bytes.
 *
 * Each group also has a "codec alone" row: the msgpackr encoding and decoding a delivery needs
 * (one of each per message, two of each per round trip) with nothing carried. No bus can beat it
 * with this payload on this machine, so it shows in the same run whether a goal given in absolute
 * figures is within reach of the hardware at all.
 */
import { createBus, msgpackCodec } from '@busway/core';
import { lastValueFrom, Subject } from 'rxjs';
import { throughput, timeRoundTrips } from '../lib/measure.mjs';

const SIZE = 64;
let domain = 0;

/** An object whose msgpack encoding is exactly SIZE bytes, like a small application event. */
function payload() {
  for (let n = 0; n < SIZE; n += 1) {
    const data = { id: 12345, kind: 'order', note: 'x'.repeat(n) };
    if (msgpackCodec.encode(data).length === SIZE) return data;
  }
  throw new Error(`no ${SIZE}-byte msgpack payload found`);
}

/** Yield to the event loop until `done()` or 5 s pass. */
async function until(done, what) {
  const give = performance.now() + 5000;
  while (!done()) {
    if (performance.now() > give) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Publish for `durationMs` in batches; the clock stops when the subscriber has seen every message. */
async function pump(publish, received, durationMs) {
  const measure = async (ms) => {
    const start = received();
    let sent = 0;
    const t0 = performance.now();
    const deadline = t0 + ms;
    while (performance.now() < deadline) {
      let last;
      for (let i = 0; i < 1024; i += 1) last = publish();
      sent += 1024;
      await last;
    }
    await until(() => received() - start >= sent, 'the subscriber');
    return { sent, elapsed: performance.now() - t0 };
  };
  await measure(durationMs / 4); // warm-up: JIT, heap
  const { sent, elapsed } = await measure(durationMs);
  return throughput(sent, SIZE, elapsed);
}

async function busPair() {
  domain += 1;
  const url = `memory://bench-${process.pid}-${domain}`;
  return [await createBus(url), await createBus(url)];
}

export const scenarios = [
  {
    name: 'rxjs Subject + msgpackr',
    group: 'memory-publish',
    baseline: true,
    run: async ({ durationMs }) => {
      const data = payload();
      const subject = new Subject();
      let received = 0;
      subject.subscribe((bytes) => {
        msgpackCodec.decode(bytes);
        received += 1;
      });
      return pump(
        () => {
          subject.next(msgpackCodec.encode(data));
          return undefined;
        },
        () => received,
        durationMs,
      );
    },
  },
  {
    name: 'msgpackr encode + decode alone (no delivery)',
    group: 'memory-publish',
    run: async ({ durationMs }) => {
      const data = payload();
      let received = 0;
      return pump(
        () => {
          msgpackCodec.decode(msgpackCodec.encode(data));
          received += 1;
          return undefined;
        },
        () => received,
        durationMs,
      );
    },
  },
  {
    name: 'busway memory://',
    group: 'memory-publish',
    goal: { metric: 'msgsPerSec', atLeast: 1_000_000 },
    run: async ({ durationMs }) => {
      const data = payload();
      const [pub, sub] = await busPair();
      try {
        let received = 0;
        sub.subscribe('bench.orders').subscribe(() => {
          received += 1;
        });
        // Interest travels as a frame: wait until the publisher's first message gets through.
        await until(() => {
          void pub.publish('bench.orders', data);
          return received > 0;
        }, 'subscription interest');
        return await pump(
          () => pub.publish('bench.orders', data),
          () => received,
          durationMs,
        );
      } finally {
        await pub.close();
        await sub.close();
      }
    },
  },
  {
    name: 'rxjs Subject + msgpackr',
    group: 'memory-request',
    baseline: true,
    run: async ({ durationMs }) => {
      const data = payload();
      const requests = new Subject();
      const replies = new Subject();
      requests.subscribe((bytes) => replies.next(msgpackCodec.encode(msgpackCodec.decode(bytes))));
      let resolveReply;
      replies.subscribe((bytes) => resolveReply(msgpackCodec.decode(bytes)));
      return timeRoundTrips(
        () =>
          new Promise((resolve) => {
            resolveReply = resolve;
            requests.next(msgpackCodec.encode(data));
          }),
        { durationMs },
      );
    },
  },
  {
    name: 'msgpackr encode + decode twice alone (no delivery)',
    group: 'memory-request',
    run: async ({ durationMs }) => {
      const data = payload();
      const encodeDecode = (value) => msgpackCodec.decode(msgpackCodec.encode(value));
      // The request's and the reply's encoding and decoding, awaited like the others' round trips.
      const codecOnly = () => Promise.resolve(encodeDecode(encodeDecode(data)));
      return timeRoundTrips(codecOnly, { durationMs });
    },
  },
  {
    name: 'busway memory://',
    group: 'memory-request',
    goal: { metric: 'p50Us', below: 5 },
    run: async ({ durationMs }) => {
      const data = payload();
      const [requester, responder] = await busPair();
      try {
        responder.handle('bench.echo', (req) => req.data);
        // Handler interest travels as a frame too: retry until the first request is answered.
        for (let tries = 0; ; tries += 1) {
          try {
            await lastValueFrom(requester.request('bench.echo', data, { timeout: 100 }));
            break;
          } catch (err) {
            if (tries > 50) throw err;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        return await timeRoundTrips(() => lastValueFrom(requester.request('bench.echo', data, { timeout: 5000 })), {
          durationMs,
          warmup: 2000,
        });
      } finally {
        await requester.close();
        await responder.close();
      }
    },
  },
];
