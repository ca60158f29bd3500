import net from 'node:net';
import { encodeEnvelope, FrameKind } from '@busway/core/internal';
import { HANDSHAKE_SIZES } from '../src/socket-handshake.js';

/** A frame of `payload` bytes on `topic`. */
export function frameOf(topic: string, payload = 0, origin = 7): Uint8Array {
  return encodeEnvelope({
    kind: FrameKind.Publish,
    origin,
    sequence: 1,
    topic,
    payload: new Uint8Array(payload).fill(1),
  });
}

/** Resolves when `socket` closes, with the milliseconds it took from `since`. */
export function closedAfter(socket: net.Socket, since = Date.now()): Promise<number> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve(Date.now() - since);
    socket.once('close', () => resolve(Date.now() - since));
  });
}

/**
 * A raw TCP client that completes the busway handshake without a secret, then hands the socket
 * over so the test can send whatever bytes it likes.
 */
export async function rawHandshaken(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  await readBytes(socket, HANDSHAKE_SIZES.hello);
  socket.write(Buffer.concat([Buffer.from('BWC1'), Buffer.alloc(16, 9), Buffer.alloc(32)]));
  await readBytes(socket, HANDSHAKE_SIZES.server);
  return socket;
}

function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= n) {
        socket.off('data', onData);
        socket.pause();
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during handshake')));
    socket.resume();
  });
}

/** Length prefix for `n`. */
export function prefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Wait until `check()` is true, polling; rejects after `ms`. */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
