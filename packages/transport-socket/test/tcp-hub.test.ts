import net from 'node:net';
import { firstValueFrom, filter } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferFullError, createBus, registerTransport, type ConnectionState, type Transport } from '@busway/core';
import { decodeEnvelope, encodeEnvelope, FrameKind, type HubTransport } from '@busway/core/internal';
import { AuthenticationError, createTransport, FramedTcpClient, type SocketTransportOptions } from '../src/index.js';
import { nextPort } from './ports.js';
import { selfSignedCert } from './tls-cert.js';
import { closedAfter, prefix, rawHandshaken, until } from './helpers.js';

const transports: Transport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
});

async function member(url: string, memberId: number, options: SocketTransportOptions = {}): Promise<HubTransport> {
  const t = (await createTransport(new URL(url), { memberId, maxFrameSize: 1 << 20, options })) as HubTransport;
  transports.push(t);
  return t;
}
const waitState = (t: Transport, s: ConnectionState): Promise<unknown> =>
  firstValueFrom(t.state$.pipe(filter((x) => x === s)));
let seq = 0;
const publish = (origin: number, topic: string, n: number): Uint8Array =>
  encodeEnvelope({
    kind: FrameKind.Publish,
    origin,
    sequence: ++seq,
    topic,
    payload: new Uint8Array([n & 0xff, n >> 8]),
  });
const subscribe = (origin: number, pattern: string): Uint8Array =>
  encodeEnvelope({ kind: FrameKind.Subscribe, origin, sequence: ++seq, topic: pattern });

describe('tcp:// hub transport', () => {
  it('buffers while the hub is gone, rejects past the bound, and flushes in order to the next hub', async () => {
    const url = `tcp://127.0.0.1:${nextPort()}`;
    const hub = await member(url, 1);
    const sender = await member(url, 2, {
      canBeHub: false,
      bufferLimit: 4096,
      reconnect: { initialDelay: 5, maxDelay: 20 },
    });
    await hub.open();
    await sender.open();
    expect(hub.isHub).toBe(true);

    const reconnecting = waitState(sender, 'reconnecting');
    await hub.close();
    await reconnecting;
    const accepted: number[] = [];
    let rejection: unknown;
    for (let i = 0; i < 1000; i += 1) {
      try {
        sender.send(publish(2, 'orders.x', i));
        accepted.push(i);
      } catch (err) {
        rejection = err;
        break;
      }
    }
    expect(rejection).toBeInstanceOf(BufferFullError);
    expect(accepted.length).toBeGreaterThan(10);
    expect(sender.stats()['bufferRejected']).toBe(1);

    // A new hub appears; it shows interest before the sender gets through, then gets the backlog in order.
    const next = await member(url, 3);
    await next.open();
    next.send(subscribe(3, 'orders.>'));
    const got: number[] = [];
    const all = new Promise<void>((resolve) =>
      next.frames$.subscribe((f) => {
        const p = decodeEnvelope(f.bytes).payload;
        got.push((p[0] as number) | ((p[1] as number) << 8));
        if (got.length === accepted.length) resolve();
      }),
    );
    await waitState(sender, 'open');
    await all;
    expect(got).toEqual(accepted);
  });

  it('drops a member that does not read (slow consumer) and keeps serving the others', async () => {
    const port = nextPort();
    const url = `tcp://127.0.0.1:${port}`;
    const hub = await member(url, 1, { writeBufferLimit: 1024 * 1024 });
    const good = await member(url, 2);
    await hub.open();
    await good.open();
    good.send(subscribe(2, 'flood'));
    // A member that subscribes and then never reads again.
    const stuck = await rawHandshaken(port);
    const sub = subscribe(3, 'flood');
    stuck.write(Buffer.concat([prefix(sub.length), sub]));
    await until(() => hub.stats()['links'] === 2);
    await new Promise((r) => setTimeout(r, 50));
    let received = 0;
    good.frames$.subscribe((f) => {
      if (decodeEnvelope(f.bytes).topic === 'flood') received += 1;
    });
    const big = encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 1,
      sequence: 1,
      topic: 'flood',
      payload: new Uint8Array(60_000),
    });
    let sent = 0;
    // The kernel's buffers absorb a few MB before the hub's own queue for `stuck` passes its bound.
    for (let round = 0; round < 300 && hub.stats()['slowConsumers'] === 0; round += 1) {
      for (let i = 0; i < 10; i += 1, sent += 1) hub.send(big);
      await new Promise((r) => setTimeout(r, 5)); // the good member keeps up
    }
    expect(hub.stats()['slowConsumers']).toBe(1);
    await until(() => hub.stats()['links'] === 1);
    await until(() => received === sent, 10_000);
    stuck.resume(); // now let it see the end the hub sent
    expect(await closedAfter(stuck)).toBeLessThan(5000);
  });

  it('works on IPv6 loopback (tcp://[::1]:port)', async () => {
    const url = `tcp://[::1]:${nextPort()}`;
    const a = await member(url, 1);
    const b = await member(url, 2);
    await a.open();
    await b.open();
    expect([a.isHub, b.isHub]).toEqual([true, false]);
    a.send(subscribe(1, 'v6'));
    await new Promise((r) => setTimeout(r, 50));
    const got = firstValueFrom(a.frames$);
    b.send(publish(2, 'v6', 6));
    const frame = await got;
    expect(decodeEnvelope(frame.bytes).payload[0]).toBe(6);
    expect(frame.peer?.address).toMatch(/^::1:/);
  });

  it('makes a member without a certificate connect-only on tls://, and the hub verifies client certificates', async () => {
    const { key, cert } = selfSignedCert();
    const url = `tls://127.0.0.1:${nextPort()}`;
    const hub = await member(url, 1, { tls: { key, cert, ca: cert, requestCert: true } });
    await hub.open();
    expect(hub.isHub).toBe(true);
    const withCert = await member(url, 2, { tls: { key, cert, ca: cert } });
    await withCert.open();
    expect(withCert.isHub).toBe(false);

    const noCert = await member(url, 3, {
      tls: { ca: cert },
      openTimeout: 300,
      reconnect: { initialDelay: 10, maxDelay: 50 },
    });
    await expect(noCert.open()).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    expect(noCert.isHub).toBe(false);
  });

  it('refuses a hub that fails certificate verification', async () => {
    const hubCert = selfSignedCert();
    const otherCa = selfSignedCert();
    const url = `tls://127.0.0.1:${nextPort()}`;
    const hub = await member(url, 1, { tls: hubCert });
    await hub.open();
    const doubter = await member(url, 2, {
      tls: { ca: otherCa.cert },
      openTimeout: 300,
      reconnect: { initialDelay: 10, maxDelay: 50 },
    });
    const err = await doubter.open().catch((e: unknown) => e);
    expect((err as Error & { cause?: { code?: string } }).cause?.code).toMatch(/CERT|SELF_SIGNED|UNABLE/);
  });

  it('carries frames over tls:// with a shared secret on top', async () => {
    const tls = { ...selfSignedCert(), ca: undefined as string | undefined };
    tls.ca = tls.cert;
    const url = `tls://127.0.0.1:${nextPort()}`;
    const a = await member(url, 1, { tls, secret: 's3cret' });
    const b = await member(url, 2, { tls, secret: 's3cret' });
    await a.open();
    await b.open();
    b.send(subscribe(2, 'x'));
    await new Promise((r) => setTimeout(r, 50));
    const got = firstValueFrom(b.frames$);
    a.send(publish(1, 'x', 7));
    expect(decodeEnvelope((await got).bytes).payload[0]).toBe(7);
  });

  it("counts the hub's refused connections in bus.stats() as transport.* counters", async () => {
    registerTransport('tcp', createTransport);
    const port = nextPort();
    const hub = await createBus({ url: `tcp://127.0.0.1:${port}`, transportOptions: { secret: 'right' } });
    transports.push({ close: () => hub.close() } as Transport);
    await expect(FramedTcpClient.connect({ port, secret: 'wrong' })).rejects.toBeInstanceOf(AuthenticationError);
    const garbage = net.connect({ port, host: '127.0.0.1' });
    garbage.on('error', () => undefined);
    garbage.resume(); // read, or the hub's FIN is never seen
    garbage.write(Buffer.alloc(52, 0x41)); // a client message of the right size, wrong magic
    await closedAfter(garbage);
    // Before: these were only in FramedTcpServer.stats(), which bus.stats() never saw.
    await until(() => hub.stats()['transport.handshakeFailures'] === 1);
    expect(hub.stats()).toMatchObject({ 'transport.authFailures': 1, 'transport.handshakeFailures': 1 });
  });
});
