/**
 * The raw Node.js `net` peer: what a hand-written length-prefixed protocol over a TCP or Unix
 * socket achieves, to read busway's stream transports against.
 *
 * @module
 */
import { once } from 'node:events';
import net from 'node:net';
import { startChild } from '../lib/child.mjs';
import { afterWarmUp, sendAndCount, timeRoundTrips } from '../lib/measure.mjs';

const CHILD = new URL('./net-child.mjs', import.meta.url);

/** Connect to a `tcp://` or `ipc://` address reported by a net child. */
async function connect(address) {
  const url = new URL(address);
  const socket =
    url.protocol === 'tcp:'
      ? net.connect({ port: Number(url.port), host: url.hostname, noDelay: true })
      : net.connect(
          process.platform === 'win32' ? `\\\\.\\pipe\\${url.pathname.replace(/[\\/:]/g, '-')}` : url.pathname,
        );
  await once(socket, 'connect');
  return socket;
}

function prefixed(size) {
  const msg = Buffer.alloc(4 + size, 0x61);
  msg.writeUInt32BE(size, 0);
  return msg;
}

/**
 * One-way throughput: write `size`-byte length-prefixed messages for `durationMs` (respecting
 * backpressure), to a receiver in a child process; the clock stops when the receiver has counted
 * the last one.
 *
 * @example
 * const figures = await netThroughput('tcp://127.0.0.1:0', { durationMs: 1000 });
 * console.log(figures.msgsPerSec);
 */
export async function netThroughput(address, { durationMs = 1500, size = 64 } = {}) {
  const peer = await startChild(CHILD, ['sink', address]);
  let socket;
  try {
    socket = await connect(peer.address);
    const msg = prefixed(size);
    const send = () => (socket.write(msg) ? undefined : once(socket, 'drain'));
    const finish = async () => {
      socket.write(prefixed(0));
      return (await peer.next('done')).count;
    };
    const pass = (ms) => sendAndCount(ms, size, send, finish);
    return await afterWarmUp(pass, durationMs);
  } finally {
    socket?.destroy();
    await peer.stop();
  }
}

/**
 * Request/reply round trip with one request in flight: a `size`-byte message to an echo server
 * in a child process and back; p50/p99 over `durationMs`.
 *
 * @example
 * const { p50Us, p99Us } = await netRoundTrip('ipc:///tmp/rr.sock');
 */
export async function netRoundTrip(address, { durationMs = 1500, size = 64 } = {}) {
  const peer = await startChild(CHILD, ['echo', address]);
  let socket;
  try {
    socket = await connect(peer.address);
    const msg = prefixed(size);
    let pending = 0;
    let wake;
    socket.on('data', (chunk) => {
      pending -= chunk.length;
      if (pending === 0) wake();
    });
    return await timeRoundTrips(
      () =>
        new Promise((resolve) => {
          wake = resolve;
          pending = msg.length;
          socket.write(msg);
        }),
      { durationMs },
    );
  } finally {
    socket?.destroy();
    await peer.stop();
  }
}
