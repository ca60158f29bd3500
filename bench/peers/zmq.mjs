/**
 * The zeromq.js peer (libzmq through its Node binding): PUSH/PULL throughput and REQ/REP round
 * trips over `tcp://` or `ipc://`, the receiver in a child process.
 *
 * @module
 */
import * as zmq from 'zeromq';
import { startChild } from '../lib/child.mjs';
import { afterWarmUp, sendAndCount, timeRoundTrips } from '../lib/measure.mjs';

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
    const finish = async () => {
      await sock.send(Buffer.alloc(0));
      return (await peer.next('done')).count;
    };
    const pass = (ms) => sendAndCount(ms, size, () => sock.send(msg), finish);
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
