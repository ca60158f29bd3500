/**
 * busway `pipe://` beside raw `net` over a Unix socket and zeromq.js `ipc://` (scenarios in
 * peers.mjs), same run, same groups (`local-one-way`, `local-round-trip`): one-way 64-byte
 * messages per second, and request/reply round trip with one request in flight. On POSIX the pipe
 * is a Unix socket in a private directory; on Windows (or under Wine) a named pipe through koffi.
 * The far end is a bus member in a child process that joined first, so it is the hub: the measured
 * path is member → hub over one connection, like the peers' one socket. The "transport only" rows
 * move bare frames with no bus: the difference to the bus rows is the bus (codec, dedup, rpc).
 * Goals (issue 5): throughput ≥ 1.5× zeromq ipc:// and ≥ raw net; round trip p50 ≤ 1.2× raw net.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { createBus, registerTransport } from '@busway/core';
import { encodeEnvelope, FrameKind } from '@busway/core/internal';
import { createTransport } from '../../packages/transport-pipe/dist/index.js';
import { startChild } from '../lib/child.mjs';
import { netRoundTrip, netThroughput } from '../peers/net.mjs';
import { throughput, timeRoundTrips } from '../lib/measure.mjs';

const CHILD = new URL('./pipe-child.mjs', import.meta.url);
// BufferFullError is recognised by its code, not instanceof: under Wine the workspace symlinks
// resolve to different URLs, so the transport may throw a class from another copy of core.
registerTransport('pipe', createTransport);

// One private socket directory per benchmark run (created 0700 by the transport); unused on Windows.
const options = { directory: join(mkdtempSync(join(tmpdir(), 'bw-bench-pipe-')), 'run') };
let counter = 0;
const freshUrl = () => `pipe://bench-${process.pid}-${++counter}`;

async function child(mode) {
  return startChild(CHILD, [mode, freshUrl(), JSON.stringify(options)]);
}

async function buswayOneWay({ durationMs, size = 64 }) {
  const peer = await child('sink');
  const bus = await createBus({ url: peer.address, transportOptions: options });
  try {
    const payload = new Uint8Array(size).fill(0x61);
    let sent = 0;
    let full = 0;
    const t0 = performance.now();
    const deadline = t0 + durationMs;
    while (performance.now() < deadline) {
      for (let i = 0; i < 256; i += 1) {
        try {
          await bus.publish('bench.m', payload);
          sent += 1;
        } catch (err) {
          if (err?.code !== 'BUFFER_FULL') throw err;
          full += 1;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      // Give the coalesced write and the socket a turn, as net's 'drain' would.
      await new Promise((r) => setImmediate(r));
    }
    await bus.publish('bench.done', null);
    const { count } = await peer.next('done');
    const elapsed = performance.now() - t0;
    if (count !== sent) throw new Error(`receiver counted ${count} of ${sent} messages`);
    return { ...throughput(count, size, elapsed), note: full > 0 ? `${full} BufferFull retries` : undefined };
  } finally {
    await bus.close();
    await peer.stop();
  }
}

async function buswayRoundTrip({ durationMs, size = 64 }) {
  const peer = await child('echo');
  const bus = await createBus({ url: peer.address, transportOptions: options });
  try {
    const payload = new Uint8Array(size).fill(0x61);
    return await timeRoundTrips(() => lastValueFrom(bus.request('bench.rr', payload, { timeout: 5000 })), {
      durationMs,
    });
  } finally {
    await bus.close();
    await peer.stop();
  }
}

async function transportOneWay({ durationMs, size = 64 }) {
  const peer = await child('frame-sink');
  const transport = await createTransport(new URL(peer.address), { memberId: 1, maxFrameSize: 1 << 24, options });
  await transport.open();
  try {
    const frame = encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 1,
      sequence: 1,
      topic: 'bench.m',
      payload: new Uint8Array(size),
    });
    let sent = 0;
    const t0 = performance.now();
    const deadline = t0 + durationMs;
    while (performance.now() < deadline) {
      for (let i = 0; i < 256; i += 1) {
        try {
          transport.send(frame);
          sent += 1;
        } catch (err) {
          if (err?.code !== 'BUFFER_FULL') throw err;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      await new Promise((r) => setImmediate(r));
    }
    transport.send(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 2, topic: 'bench.d' }));
    const { count } = await peer.next('done');
    const elapsed = performance.now() - t0;
    if (count !== sent) throw new Error(`receiver counted ${count} of ${sent} frames`);
    return throughput(count, size, elapsed);
  } finally {
    await transport.close();
    await peer.stop();
  }
}

async function transportRoundTrip({ durationMs, size = 64 }) {
  const peer = await child('frame-echo');
  const transport = await createTransport(new URL(peer.address), { memberId: 1, maxFrameSize: 1 << 24, options });
  await transport.open();
  try {
    transport.send(encodeEnvelope({ kind: FrameKind.Subscribe, origin: 1, sequence: 1, topic: 'bench.pong' }));
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

// On Windows (and under Wine) the comparison is Node's own net over \\.\pipe\ (libuv's named
// pipes), in groups of their own: the shared local groups' Unix-socket and zeromq baselines do
// not apply there. The net peer maps an ipc:// URL's path to a pipe name.
const onWindows = process.platform === 'win32';
const ONE_WAY = onWindows ? 'pipe-win32-one-way' : 'local-one-way';
const ROUND_TRIP = onWindows ? 'pipe-win32-round-trip' : 'local-round-trip';
const NET_PIPE = 'net \\\\.\\pipe\\ (libuv)';
const netPipeAddress = () => `ipc:///busway-bench-${process.pid}-net-${++counter}`;

export const groups = {
  'pipe-win32-one-way': {
    title: 'Named pipe one-way, 64-byte messages, receiver in a child process',
    baseline: NET_PIPE,
    better: 'throughput',
  },
  'pipe-win32-round-trip': {
    title: 'Named pipe request/reply, one in flight, 64 bytes',
    baseline: NET_PIPE,
    better: 'latency',
  },
};

export const scenarios = [
  { name: 'busway pipe://', group: ONE_WAY, run: buswayOneWay },
  { name: 'busway pipe://', group: ROUND_TRIP, run: buswayRoundTrip },
  { name: 'busway pipe:// transport only', group: ONE_WAY, run: transportOneWay },
  { name: 'busway pipe:// transport only', group: ROUND_TRIP, run: transportRoundTrip },
  ...(onWindows
    ? [
        {
          name: NET_PIPE,
          group: ONE_WAY,
          baseline: true,
          run: ({ durationMs }) => netThroughput(netPipeAddress(), { durationMs }),
        },
        {
          name: NET_PIPE,
          group: ROUND_TRIP,
          baseline: true,
          run: ({ durationMs }) => netRoundTrip(netPipeAddress(), { durationMs }),
        },
      ]
    : []),
];
