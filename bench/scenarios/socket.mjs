/**
 * busway `tcp://` beside raw `net` and zeromq.js (scenarios in peers.mjs), same run, same groups:
 * one-way 64-byte messages per second, and request/reply round trip with one request in flight.
 * The far end is a bus member in a child process that joined first, so it is the hub: the
 * measured path is member → hub over one loopback TCP connection, like the peers' one socket.
 * Goals (issue 4): throughput ≥ 1.5× zeromq and ≥ raw net; round trip p50 ≤ 1.2× raw net.
 */
import net from 'node:net';
import { firstValueFrom } from 'rxjs';
import { createBus, registerTransport, BufferFullError } from '@busway/core';
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
      // Give the coalesced write (setImmediate) and the socket a turn, as net's 'drain' would.
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
  const peer = await startChild(CHILD, ['echo', `tcp://127.0.0.1:${await freePort()}`]);
  const bus = await createBus({ url: peer.address });
  try {
    const payload = new Uint8Array(size).fill(0x61);
    return await timeRoundTrips(() => firstValueFrom(bus.request('bench.rr', payload, { timeout: 5000 })), {
      durationMs,
    });
  } finally {
    await bus.close();
    await peer.stop();
  }
}

export const scenarios = [
  { name: 'busway tcp://', group: 'tcp-one-way', run: buswayOneWay },
  { name: 'busway tcp://', group: 'tcp-round-trip', run: buswayRoundTrip },
];
