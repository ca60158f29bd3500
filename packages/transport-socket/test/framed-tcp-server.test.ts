import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferFullError, FrameTooLargeError, FrameError } from '@busway/core';
import {
  AuthenticationError,
  FramedTcpClient,
  FramedTcpServer,
  StalledFrameError,
  type StreamFrameLink,
} from '../src/index.js';
import { closedAfter, frameOf, prefix, rawHandshaken, until } from './helpers.js';
import { selfSignedCert } from './tls-cert.js';

const servers: FramedTcpServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An echo server that records why each link closed. */
async function echoServer(options: Parameters<typeof FramedTcpServer.listen>[0] = {}) {
  const closes: (Error | undefined)[] = [];
  const server = await FramedTcpServer.listen({ port: 0, ...options }, (link) => {
    link.start({ onFrame: (f) => link.send(f.slice()), onClose: (err) => closes.push(err) });
  });
  servers.push(server);
  return { server, closes };
}

/** A well-behaved client that checks the server still echoes. */
async function stillServes(port: number, options: { secret?: string; tls?: { ca: string } } = {}): Promise<void> {
  const link = await FramedTcpClient.connect({ port, ...options });
  const echoed = new Promise<Uint8Array>((resolve) =>
    link.start({ onFrame: (f) => resolve(f.slice()), onClose: () => undefined }),
  );
  const sent = frameOf('still.here', 10);
  link.send(sent);
  expect(Buffer.from(await echoed).equals(Buffer.from(sent))).toBe(true);
  link.close();
}

describe('FramedTcpServer and FramedTcpClient', () => {
  it('echo frames of every size up to the limit, coalesced or not', async () => {
    const { server } = await echoServer();
    const link = await FramedTcpClient.connect({ port: server.port });
    const got: Uint8Array[] = [];
    const all = new Promise<void>((resolve) =>
      link.start({
        onFrame: (f) => {
          got.push(f.slice());
          if (got.length === 3) resolve();
        },
        onClose: () => undefined,
      }),
    );
    const frames = [frameOf('a', 0), frameOf('b', 100_000), frameOf('c', 3)];
    for (const f of frames) link.send(f);
    await all;
    expect(got.map((f) => f.length)).toEqual(frames.map((f) => f.length));
    expect(server.stats().accepted).toBe(1);
    link.close();
  });

  it('binds loopback unless a host is named', async () => {
    const { server } = await echoServer();
    expect(server.host).toBe('127.0.0.1');
  });

  it('closes a peer that announces a frame over the limit, before reading it, and keeps serving', async () => {
    const { server, closes } = await echoServer({ maxFrameSize: 1024 });
    const bad = await rawHandshaken(server.port);
    sockets.push(bad);
    const closed = closedAfter(bad);
    bad.write(prefix(1_000_000_000));
    expect(await closed).toBeLessThan(1000);
    await stillServes(server.port);
    await until(() => closes.length > 0);
    expect(closes[0]).toBeInstanceOf(FrameTooLargeError);
  });

  it('closes a peer that sends garbage and keeps serving', async () => {
    const { server, closes } = await echoServer();
    const bad = await rawHandshaken(server.port);
    sockets.push(bad);
    const closed = closedAfter(bad);
    bad.write(Buffer.concat([prefix(60), Buffer.alloc(60, 0xab)]));
    expect(await closed).toBeLessThan(1000);
    await stillServes(server.port);
    await until(() => closes.length > 0);
    expect(closes[0]).toBeInstanceOf(FrameError);
  });

  it('drops a client that never completes the handshake (slowloris at connect) within the bound', async () => {
    const { server } = await echoServer({ handshakeTimeout: 200 });
    const slow = net.connect({ port: server.port, host: '127.0.0.1' });
    slow.on('error', () => undefined);
    slow.resume(); // reads what the server says, as a slowloris does; it just never answers in full
    sockets.push(slow);
    const since = Date.now();
    slow.write('BW'); // a start, never finished
    const took = await closedAfter(slow, since);
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(1500);
    expect(server.stats().handshakeFailures).toBe(1);
    await stillServes(server.port);
  });

  it('drops a peer that trickles a frame slower than the frame timeout, and keeps serving', async () => {
    const { server, closes } = await echoServer({ frameTimeout: 300 });
    const slow = await rawHandshaken(server.port);
    sockets.push(slow);
    const frame = Buffer.concat([prefix(1000), Buffer.from(frameOf('t', 1000 - 41))]);
    const since = Date.now();
    const closed = closedAfter(slow, since);
    let at = 0;
    const trickle = setInterval(() => {
      if (!slow.destroyed && at < frame.length) slow.write(frame.subarray(at, (at += 10)));
    }, 20);
    try {
      const took = await closed;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(1500);
    } finally {
      clearInterval(trickle);
    }
    await until(() => closes.length > 0);
    expect(closes[0]).toBeInstanceOf(StalledFrameError);
    await stillServes(server.port);
  });

  it('caps connections: one over the cap is closed at accept, the others keep working', async () => {
    const { server } = await echoServer({ maxConnections: 2 });
    const a = await FramedTcpClient.connect({ port: server.port });
    const b = await FramedTcpClient.connect({ port: server.port });
    const extra = net.connect({ port: server.port, host: '127.0.0.1' });
    extra.on('error', () => undefined);
    sockets.push(extra);
    expect(await closedAfter(extra)).toBeLessThan(1000);
    expect(server.stats().rejectedAtCap).toBe(1);
    const echoed = new Promise<number>((resolve) =>
      a.start({ onFrame: (f) => resolve(f.length), onClose: () => undefined }),
    );
    a.send(frameOf('x', 5));
    expect(await echoed).toBe(frameOf('x', 5).length);
    a.close();
    b.close();
  });

  it('authenticates both ways with a shared secret and counts failures', async () => {
    const { server } = await echoServer({ secret: 'right' });
    await stillServes(server.port, { secret: 'right' });
    // The hub answers a wrong proof with its fixed refusal, so the member can say why it failed.
    const refused = await FramedTcpClient.connect({ port: server.port, secret: 'wrong' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect(refused).toMatchObject({ code: 'AUTH_FAILED' });
    await expect(FramedTcpClient.connect({ port: server.port })).rejects.toBeInstanceOf(AuthenticationError);
    // The wrong-secret client was refused by the server: counted there.
    await new Promise((r) => setTimeout(r, 50));
    expect(server.stats().authFailures).toBe(1);

    const open = await echoServer();
    await expect(FramedTcpClient.connect({ port: open.server.port, secret: 'right' })).rejects.toBeInstanceOf(
      AuthenticationError,
    );
  });

  it('refuses to queue more than the write bound for a peer that does not read', async () => {
    let serverSide: StreamFrameLink | undefined;
    const server = await FramedTcpServer.listen({ port: 0, writeBufferLimit: 256 * 1024 }, (link) => {
      serverSide = link;
      link.start({ onFrame: () => undefined, onClose: () => undefined });
    });
    servers.push(server);
    const client = await FramedTcpClient.connect({ port: server.port }); // never started: never reads
    await new Promise((r) => setTimeout(r, 50));
    const big = frameOf('fill', 64 * 1024);
    let thrown: unknown;
    for (let i = 0; i < 10_000 && thrown === undefined; i += 1) {
      try {
        serverSide!.send(big);
      } catch (err) {
        thrown = err;
      }
    }
    expect(thrown).toBeInstanceOf(BufferFullError);
    client.close();
  });
});

describe('FramedTcpClient against a fake hub', () => {
  it('fails with AuthenticationError when the hub cannot prove the shared secret', async () => {
    // A fake hub that does not know the key: it demands a secret, ignores the member's proof and
    // answers with a made-up proof of its own.
    const fake = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write(Buffer.concat([Buffer.from('BWH1'), Buffer.from([1]), Buffer.alloc(16, 3)]));
      socket.once('data', () => socket.write(Buffer.concat([Buffer.from('BWS1'), Buffer.alloc(32, 4)])));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    try {
      const port = (fake.address() as net.AddressInfo).port;
      const err = await FramedTcpClient.connect({ port, secret: 'right' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(err).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringMatching(/hub failed to prove/) });
    } finally {
      fake.close();
    }
  });
});

describe('FramedTcpServer over TLS: peers that never get through TLS', () => {
  const { key, cert } = selfSignedCert();
  const tls = { key, cert };
  /** A plain TCP connection to a TLS server: it never starts TLS unless the test writes. */
  async function rawPeer(port: number): Promise<net.Socket> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    sockets.push(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    return socket;
  }

  it('counts a peer that has not started TLS as open, and close() does not wait for it', async () => {
    const { server } = await echoServer({ tls, handshakeTimeout: 20_000 });
    const idle = await rawPeer(server.port);
    // Before: open stayed 0 until secureConnection, and close() waited out handshakeTimeout.
    await until(() => server.stats().open === 1);
    const closed = closedAfter(idle);
    const since = Date.now();
    await server.close();
    expect(Date.now() - since).toBeLessThan(10_000);
    await closed;
    expect(server.stats().open).toBe(0);
  }, 30_000);

  it('disconnects a stalled TLS handshake within handshakeTimeout, counts it, and keeps serving', async () => {
    const { server } = await echoServer({ tls, handshakeTimeout: 300 });
    const stalled = await rawPeer(server.port);
    const took = await closedAfter(stalled);
    expect(took).toBeLessThan(5000);
    await until(() => server.stats().handshakeFailures === 1 && server.stats().open === 0);
    await stillServes(server.port, { tls: { ca: cert } });
  });

  it('disconnects a peer that sends something other than TLS, counts it, and keeps serving', async () => {
    const { server } = await echoServer({ tls });
    const garbage = await rawPeer(server.port);
    garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedAfter(garbage);
    await until(() => server.stats().handshakeFailures === 1 && server.stats().open === 0);
    await stillServes(server.port, { tls: { ca: cert } });
  });

  it('caps connections under TLS, peers still in the TLS handshake included', async () => {
    const { server } = await echoServer({ tls, maxConnections: 2 });
    await rawPeer(server.port);
    await rawPeer(server.port);
    await until(() => server.stats().open === 2);
    const extra = await rawPeer(server.port);
    await closedAfter(extra);
    expect(server.stats()).toMatchObject({ rejectedAtCap: 1, open: 2 });
  });
});
