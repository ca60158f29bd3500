/**
 * busway `tcp://` beside raw `net` and zeromq.js (scenarios in peers.mjs), same run, same groups:
 * one-way 64-byte messages per second, and request/reply round trip with one request in flight.
 * The far end is a bus member in a child process that joined first, so it is the hub: the
 * measured path is member → hub over one loopback TCP connection, like the peers' one socket.
 * The "transport only" rows move bare frames with the transport and no bus, to show what the
 * socket layer costs by itself; the difference to the bus rows is the bus (codec, dedup, rpc).
 * Goals (issue 4): throughput ≥ 1.5× zeromq and ≥ raw net; round trip p50 ≤ 1.2× raw net.
 */
import net from 'node:net';
import { lastValueFrom } from 'rxjs';
import { createBus, registerTransport, BufferFullError } from '@busway/core';
import { encodeEnvelope, FrameKind } from '@busway/core/internal';
import { createTransport } from '../../packages/transport-socket/dist/index.js';
import { startChild } from '../lib/child.mjs';
import { throughput, timeRoundTrips } from '../lib/measure.mjs';

const CHILD = new URL('./socket-child.mjs', import.meta.url);
registerTransport('tcp', createTransport);

/** A loopback port free right now (the child binds it next). */
async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Yield until `queued()` is at most 256 KiB: the coalesced write (setImmediate) and the socket get their turn. */
async function drained(queued) {
  do await new Promise((r) => setImmediate(r));
  while (queued() > 256 * 1024);
}

async function buswayOneWay({ durationMs, size = 64 }) {
  const peer = await startChild(CHILD, ['sink', `tcp://127.0.0.1:${await freePort()}`]);
  const bus = await createBus({ url: peer.address });
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
          if (!(err instanceof BufferFullError)) throw err;
          // Backpressure: the socket's queue is at its bound; let it drain.
          full += 1;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      // Backpressure like the net peer's 'drain': let the socket's queue fall below a high-water mark.
      await drained(() => bus.stats()['transport.sendQueueBytes'] ?? 0);
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
  const peer = await startChild(CHILD, ['echo', `tcp://127.0.0.1:${await freePort()}`]);
  const bus = await createBus({ url: peer.address });
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

/** The transport alone: bare frames (64-byte payload) member → hub, counted by the hub's transport. */
async function transportOneWay({ durationMs, size = 64 }) {
  const peer = await startChild(CHILD, ['frame-sink', `tcp://127.0.0.1:${await freePort()}`]);
  const transport = await createTransport(new URL(peer.address), { memberId: 1, maxFrameSize: 1 << 24, options: {} });
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
          if (!(err instanceof BufferFullError)) throw err;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      await drained(() => transport.stats()['sendQueueBytes'] ?? 0);
    }
    await drained(() => transport.stats()['sendQueueBytes'] ?? 0);
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

/** The transport alone: a bare frame to the hub and one back, one in flight. */
async function transportRoundTrip({ durationMs, size = 64 }) {
  const peer = await startChild(CHILD, ['frame-echo', `tcp://127.0.0.1:${await freePort()}`]);
  const transport = await createTransport(new URL(peer.address), { memberId: 1, maxFrameSize: 1 << 24, options: {} });
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

export const scenarios = [
  { name: 'busway tcp://', group: 'tcp-one-way', run: buswayOneWay },
  { name: 'busway tcp://', group: 'tcp-round-trip', run: buswayRoundTrip },
  { name: 'busway tcp:// transport only', group: 'tcp-one-way', run: transportOneWay },
  { name: 'busway tcp:// transport only', group: 'tcp-round-trip', run: transportRoundTrip },
];
