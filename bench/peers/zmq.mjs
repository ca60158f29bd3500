/**
 * The zeromq.js peer (libzmq through its Node binding): PUSH/PULL throughput and REQ/REP round
 * trips over `tcp://` or `ipc://`, the receiver in a child process.
 *
 * @module
 */
import * as zmq from 'zeromq';
import { startChild } from '../lib/child.mjs';
import { afterWarmUp, throughput, timeRoundTrips } from '../lib/measure.mjs';

const CHILD = new URL('./zmq-child.mjs', import.meta.url);

/**
 * One-way throughput: a PUSH socket sends `size`-byte messages for `durationMs` to a PULL socket
 * in a child process; the clock stops when the receiver has counted the last one.
 *
 * @example
 * const { msgsPerSec } = await zmqThroughput('tcp://127.0.0.1:0');
 */
export async function zmqThroughput(address, { durationMs = 1500, size = 64 } = {}) {
  const peer = await startChild(CHILD, ['sink', address]);
  const sock = new zmq.Push({ linger: 0 });
  try {
    sock.connect(peer.address);
    const msg = Buffer.alloc(size, 0x61);
    const pass = async (ms) => {
      let sent = 0;
      const t0 = performance.now();
      const deadline = t0 + ms;
      while (performance.now() < deadline) {
        for (let i = 0; i < 256; i += 1) {
          sent += 1;
          await sock.send(msg);
        }
      }
      await sock.send(Buffer.alloc(0));
      const { count } = await peer.next('done');
      const elapsed = performance.now() - t0;
      if (count !== sent) throw new Error(`receiver counted ${count} of ${sent} messages`);
      return throughput(count, size, elapsed);
    };
    return await afterWarmUp(pass, durationMs);
  } finally {
    sock.close();
    await peer.stop();
  }
}

/**
 * Request/reply round trip with one request in flight: REQ → REP (echo, in a child process) → REQ.
 *
 * @example
 * const { p50Us } = await zmqRoundTrip('ipc:///tmp/zmq-rr');
 */
export async function zmqRoundTrip(address, { durationMs = 1500, size = 64 } = {}) {
  const peer = await startChild(CHILD, ['echo', address]);
  const sock = new zmq.Request({ linger: 0 });
  try {
    sock.connect(peer.address);
    const msg = Buffer.alloc(size, 0x61);
    return await timeRoundTrips(
      async () => {
        await sock.send(msg);
        await sock.receive();
      },
      { durationMs },
    );
  } finally {
    sock.close();
    await peer.stop();
  }
}
