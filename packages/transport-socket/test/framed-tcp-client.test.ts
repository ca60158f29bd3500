import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope, FrameKind } from '@busway/core/internal';
import { FramedTcpClient } from '../src/index.js';
import { HANDSHAKE_SIZES } from '../src/socket-handshake.js';
import { prefix, until } from './helpers.js';
import { selfSignedCert } from './tls-cert.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A frame whose every payload byte depends on `i`. */
const numbered = (i: number): Uint8Array =>
  encodeEnvelope({
    kind: FrameKind.Publish,
    origin: 9,
    sequence: i + 1,
    topic: `n.${i}`,
    payload: new Uint8Array(100 + i).map((_, j) => (i * 13 + j) & 0xff),
  });
const wire = (i: number): Buffer => Buffer.concat([prefix(numbered(i).length), numbered(i)]);
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { key, cert } = selfSignedCert();

/**
 * A hub that speaks the handshake (no secret) in awkward pieces: its hello in two writes, so the
 * member reads it in two reads, and its reply in one write with the first frames behind it.
 * Then one more frame, sent while the member has its link but has not started it.
 */
async function awkwardHub(secure: boolean): Promise<number> {
  const onSocket = (socket: net.Socket): void => {
    socket.on('error', () => undefined);
    void (async () => {
      const hello = Buffer.concat([Buffer.from('BWH1'), Buffer.from([0]), Buffer.alloc(16, 5)]);
      socket.write(hello.subarray(0, 3));
      await pause(30);
      socket.write(hello.subarray(3));
      let got = 0;
      socket.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got < HANDSHAKE_SIZES.client) return;
        socket.write(Buffer.concat([Buffer.from('BWS1'), Buffer.alloc(32), wire(0), wire(1)]));
        setTimeout(() => socket.write(wire(2)), 30);
      });
    })();
  };
  const server = secure ? tls.createServer({ key, cert }, onSocket) : net.createServer(onSocket);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe.each([
  ['tcp', false],
  ['tls', true],
] as const)('FramedTcpClient over %s, reading into one reused buffer', (_name, secure) => {
  it('reads a handshake split across reads, and keeps what followed it until the link starts', async () => {
    const port = await awkwardHub(secure);
    const link = await FramedTcpClient.connect({ port, ...(secure ? { tls: { ca: cert } } : {}) });
    // The reply's tail (two frames) is the link's leftover; the third frame comes meanwhile.
    await pause(100);
    const frames: Uint8Array[] = [];
    link.start({ onFrame: (f) => frames.push(f.slice()), onClose: () => undefined });
    await until(() => frames.length === 3);
    expect(frames).toEqual([numbered(0), numbered(1), numbered(2)]);
    link.close();
  });
});
