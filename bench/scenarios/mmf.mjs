/**
 * busway mmf:// (shared-memory ring) beside raw `net` over a Unix socket and zeromq.js ipc://
 * (scenarios in peers.mjs), same run, same groups. The far end is a member in a child process.
 * The ring is lossy: the sender never waits, and a receiver more than a ring behind skips ahead
 * and counts what it lost; msgs/s counts what the receiver got, and losses are shown as a note.
 * Goals (issue 6): 64-byte one-way ≥ 2 M msgs/s and ≥ 3× zeromq ipc://; round trip p50 ≤ 1/3 of
 * zeromq ipc:// req/rep; 1 MiB messages ≥ 2 GB/s; one publisher to four subscriber processes,
 * and the CPU an idle subscriber uses (< 1% of a core).
 */
import { lastValueFrom } from 'rxjs';
import { createBus, registerTransport } from '@busway/core';
import { encodeEnvelope, FrameKind } from '@busway/core/internal';
import { createTransport } from '../../packages/transport-mmf/dist/index.js';
import { netThroughput } from '../peers/net.mjs';
import { ipcAddress } from '../peers/address.mjs';
import { startChild } from '../lib/child.mjs';
import { throughput, timeRoundTrips } from '../lib/measure.mjs';

const CHILD = new URL('./mmf-child.mjs', import.meta.url);
registerTransport('mmf', createTransport);
let n = 0;
const spin = process.env.BUSWAY_MMF_SPIN_MS === undefined ? '' : `&spinMs=${process.env.BUSWAY_MMF_SPIN_MS}`;
const ringUrl = (size = '16MiB') => `mmf://bench-${process.pid}-${++n}?size=${size}${spin}`;
const yieldTurn = () => new Promise((r) => setImmediate(r));

// Under Windows (natively or under Wine) the Unix-socket and zeromq peers are not there: the mmf
// rows join the named-pipe groups of pipe.mjs, beside Node's own net over \\.\pipe\ and busway
// pipe://, so the table reads mmf as a ratio of the pipe transport measured in the same run.
const onWindows = process.platform === 'win32';
const ONE_WAY = onWindows ? 'pipe-win32-one-way' : 'local-one-way';
const ROUND_TRIP = onWindows ? 'pipe-win32-round-trip' : 'local-round-trip';

export const groups = {
  'large-one-way': {
    title: 'Local one-way, 1 MiB messages, receiver in a child process',
    baseline: 'net unix socket 1 MiB',
    better: 'throughput',
  },
  'fan-out': {
    title: 'one publisher → subscriber processes, 64-byte frames, deliveries per second (all subscribers)',
    baseline: 'busway mmf:// → 1 subscriber',
    better: 'throughput',
  },
};

function lossNote(sent, count) {
  return sent > count ? `${sent - count} of ${sent} lost (receiver behind by more than the ring)` : undefined;
}

async function buswayOneWay({ durationMs, size = 64 }) {
  const url = ringUrl();
  const peer = await startChild(CHILD, ['sink', url]);
  const bus = await createBus({ url });
  try {
    await new Promise((r) => setTimeout(r, 200)); // the sink's Subscribe reaches us (not needed on a broadcast ring, but fair)
    const payload = new Uint8Array(size).fill(0x61);
    let sent = 0;
    const t0 = performance.now();
    const deadline = t0 + durationMs;
    while (performance.now() < deadline) {
      for (let i = 0; i < 256; i += 1) {
        void bus.publish('bench.m', payload);
        sent += 1;
      }
      await yieldTurn();
    }
    await bus.publish('bench.done', null);
    const { count } = await peer.next('done');
    return { ...throughput(count, size, performance.now() - t0), note: lossNote(sent, count) };
  } finally {
    await bus.close();
    await peer.stop();
  }
}

/** Bare frames through the transport (no bus, no codec): what the ring itself does. */
async function transportOneWay({ durationMs, size = 64, ring = '16MiB', subscribers = 1 }) {
  const url = ringUrl(ring);
  const peers = [];
  for (let i = 0; i < subscribers; i += 1) peers.push(await startChild(CHILD, ['frame-sink', url]));
  const transport = createTransport(new URL(url), { memberId: 1, maxFrameSize: 1 << 24, options: {} });
  await transport.open();
  try {
    const frame = encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 1,
      sequence: 1,
      topic: 'bench.m',
      payload: new Uint8Array(size),
    });
    const batch = size >= 65536 ? 4 : 1024;
    let sent = 0;
    const t0 = performance.now();
    const deadline = t0 + durationMs;
    while (performance.now() < deadline) {
      for (let i = 0; i < batch; i += 1) transport.send(frame);
      sent += batch;
      await yieldTurn();
    }
    transport.send(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 2, topic: 'bench.d' }));
    const results = await Promise.all(peers.map((p) => p.next('done')));
    const elapsed = performance.now() - t0;
    const count = results.reduce((sum, r) => sum + r.count, 0);
    const figures = throughput(count, frame.length, elapsed);
    return { ...figures, note: lossNote(sent * subscribers, count) };
  } finally {
    await transport.close();
    await Promise.all(peers.map((p) => p.stop()));
  }
}

async function buswayRoundTrip({ durationMs, size = 64 }) {
  const url = ringUrl();
  const peer = await startChild(CHILD, ['echo', url]);
  const bus = await createBus({ url });
  try {
    const payload = new Uint8Array(size).fill(0x61);
    const ask = () => lastValueFrom(bus.request('bench.rr', payload, { timeout: 5000 }));
    // The handler's Handle frame must have arrived: retry the first request.
    for (let i = 0; ; i += 1) {
      try {
        await ask();
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return await timeRoundTrips(ask, { durationMs });
  } finally {
    await bus.close();
    await peer.stop();
  }
}

async function transportRoundTrip({ durationMs, size = 64 }) {
  const url = ringUrl();
  const peer = await startChild(CHILD, ['frame-echo', url]);
  const transport = createTransport(new URL(url), { memberId: 1, maxFrameSize: 1 << 24, options: {} });
  await transport.open();
  try {
    const frame = encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 1,
      sequence: 2,
      topic: 'bench.ping',
      payload: new Uint8Array(size),
    });
    let wake;
    transport.frames$.subscribe(() => wake());
    return await timeRoundTrips(
      () =>
        new Promise((resolve) => {
          wake = resolve;
          transport.send(frame);
        }),
      { durationMs },
    );
  } finally {
    await transport.close();
    await peer.stop();
  }
}

/** CPU an idle subscriber process uses while the bus is quiet, in % of one core. */
async function idleSubscriberCpu({ durationMs }) {
  const url = ringUrl();
  const peer = await startChild(CHILD, ['idle', url]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    peer.child.send({ type: 'cpu', ms: Math.max(1000, durationMs) });
    const { percent } = await peer.next('cpu');
    return { msgsPerSec: 0, note: `idle subscriber: ${percent.toFixed(3)}% of a core (goal < 1%)` };
  } finally {
    await peer.stop();
  }
}

export const scenarios = [
  { name: 'busway mmf://', group: ONE_WAY, goal: { metric: 'msgsPerSec', atLeast: 2_000_000 }, run: buswayOneWay },
  {
    name: 'busway mmf:// transport only',
    group: ONE_WAY,
    goal: { metric: 'msgsPerSec', atLeast: 2_000_000 },
    run: transportOneWay,
  },
  { name: 'busway mmf://', group: ROUND_TRIP, run: buswayRoundTrip },
  { name: 'busway mmf:// transport only', group: ROUND_TRIP, run: transportRoundTrip },
  {
    name: 'net unix socket 1 MiB',
    group: 'large-one-way',
    baseline: true,
    run: ({ durationMs }) =>
      onWindows
        ? { skipped: 'no Unix socket peer on Windows' }
        : netThroughput(ipcAddress('net'), { durationMs, size: 1 << 20 }),
  },
  {
    name: 'busway mmf:// transport only 1 MiB',
    group: 'large-one-way',
    goal: { metric: 'mbPerSec', atLeast: 2000 },
    run: ({ durationMs }) => transportOneWay({ durationMs, size: (1 << 20) - 64, ring: '64MiB' }),
  },
  {
    name: 'busway mmf:// → 1 subscriber',
    group: 'fan-out',
    baseline: true,
    rounds: 1,
    run: ({ durationMs }) => transportOneWay({ durationMs, subscribers: 1 }),
  },
  {
    name: 'busway mmf:// → 4 subscribers',
    group: 'fan-out',
    rounds: 1,
    run: ({ durationMs }) => transportOneWay({ durationMs, subscribers: 4 }),
  },
  { name: 'idle mmf:// subscriber CPU', group: 'fan-out', rounds: 1, run: idleSubscriberCpu },
];
