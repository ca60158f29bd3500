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
import { busOneWay, busRoundTrip, busTransport, transportOneWay, transportRoundTrip } from '../lib/bus-scenarios.mjs';

/** A loopback port free right now (the child binds it next). */
async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

const tcp = await busTransport({
  scheme: 'tcp',
  module: new URL('../../packages/transport-socket/dist/index.js', import.meta.url),
  url: async () => `tcp://127.0.0.1:${await freePort()}`,
  routed: true,
  // Backpressure like the net peer's 'drain': publishers let the socket's queue fall below 256 KiB.
  drainBelow: 256 * 1024,
});

// Issue 4's goals, checked in the table against the peers of the same run.
const ONE_WAY_GOALS = [
  { vs: 'net tcp', metric: 'msgsPerSec', atLeast: 1 },
  { vs: 'zeromq tcp:// push/pull', label: 'zeromq', metric: 'msgsPerSec', atLeast: 1.5 },
];
const ROUND_TRIP_GOAL = { vs: 'net tcp', metric: 'p50Us', atMost: 1.2 };

export const scenarios = [
  { name: 'busway tcp://', group: 'tcp-one-way', goal: ONE_WAY_GOALS, run: (ctx) => busOneWay(tcp, ctx) },
  { name: 'busway tcp://', group: 'tcp-round-trip', goal: ROUND_TRIP_GOAL, run: (ctx) => busRoundTrip(tcp, ctx) },
  { name: 'busway tcp:// transport only', group: 'tcp-one-way', run: (ctx) => transportOneWay(tcp, ctx) },
  { name: 'busway tcp:// transport only', group: 'tcp-round-trip', run: (ctx) => transportRoundTrip(tcp, ctx) },
];
