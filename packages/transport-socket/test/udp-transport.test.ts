import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, FrameTooLargeError, PeerLostError, registerTransport } from '@busway/core';
import { decodeEnvelope, FrameKind } from '@busway/core/internal';
import {
  createTransport,
  UDP_AUTH_OVERHEAD,
  UdpEndpoint,
  UdpTransport,
  type UdpEndpointOptions,
} from '../src/index.js';
import { frameOf, until } from './helpers.js';
import { nextPort } from './ports.js';

registerTransport('udp', createTransport);

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
});
async function udp(
  group: string,
  port: number,
  memberId: number,
  secret?: string,
  more: UdpEndpointOptions = {},
): Promise<UdpTransport> {
  const t = new UdpTransport(group, port, { memberId }, secret === undefined ? more : { ...more, secret });
  closers.push(t);
  await t.open();
  return t;
}

describe('udp:// transport', () => {
  it('reaches every other member of the group, never the sender itself', async () => {
    const port = nextPort();
    const a = await udp('239.255.10.1', port, 1);
    const b = await udp('239.255.10.1', port, 2);
    const c = await udp('239.255.10.1', port, 3);
    const atB = firstValueFrom(b.frames$.pipe(take(2), toArray()));
    const atC = firstValueFrom(c.frames$.pipe(take(2), toArray()));
    const atA: unknown[] = [];
    a.frames$.subscribe((f) => atA.push(f));
    a.send(frameOf('t', 10, 1));
    a.send(frameOf('u', 10, 1));
    expect((await atB).map((f) => decodeEnvelope(f.bytes).topic)).toEqual(['t', 'u']);
    expect((await atC).map((f) => decodeEnvelope(f.bytes).topic)).toEqual(['t', 'u']);
    await until(() => a.stats()['ownEchoes'] === 2);
    expect(atA).toHaveLength(0);
    expect(a.capabilities).toMatchObject({
      reliable: false,
      ordered: false,
      broadcast: 'native',
      knowsResponders: false,
    });
    expect(a.capabilities.maxFrameSize).toBeLessThanOrEqual(1400);
  });

  it('works over a broadcast address as well as a multicast group', async () => {
    const port = nextPort();
    const a = await udp('127.255.255.255', port, 1);
    const b = await udp('127.255.255.255', port, 2);
    const atB = firstValueFrom(b.frames$);
    a.send(frameOf('broadcast', 10, 1));
    expect(decodeEnvelope((await atB).bytes).topic).toBe('broadcast');
  });

  it('refuses frames over the datagram size (core fragments below it)', async () => {
    const a = await udp('239.255.10.2', nextPort(), 1);
    expect(() => a.send(frameOf('big', 2000, 1))).toThrow(FrameTooLargeError);
  });

  it('drops and counts datagrams without a valid HMAC, and malformed ones', async () => {
    const port = nextPort();
    const group = '239.255.10.3';
    const a = await udp(group, port, 1, 'secret');
    const b = await udp(group, port, 2, 'secret');
    const intruder = await UdpEndpoint.open(group, port, {}, () => undefined);
    closers.push(intruder);
    const forger = await UdpEndpoint.open(group, port, { secret: 'guess' }, () => undefined);
    closers.push(forger);
    const got: string[] = [];
    b.frames$.subscribe((f) => got.push(decodeEnvelope(f.bytes).topic));
    intruder.send(frameOf('evil', 10, 9));
    forger.send(frameOf('forged', 10, 9));
    a.send(new Uint8Array(50).fill(0xee)); // authenticated but not an envelope
    a.send(frameOf('good', 10, 1));
    await until(() => got.length === 1 && b.stats()['unauthenticated'] === 2 && b.stats()['malformed'] === 1);
    expect(got).toEqual(['good']);
    expect(a.capabilities.maxFrameSize).toBe(1200 - UDP_AUTH_OVERHEAD);
  });

  it('paces a burst so a receiver on the same host keeps up', async () => {
    const port = nextPort();
    const a = await udp('239.255.10.4', port, 1);
    const b = await udp('239.255.10.4', port, 2);
    let n = 0;
    b.frames$.subscribe(() => (n += 1));
    for (let i = 0; i < 3000; i += 1) a.send(frameOf('burst', 1100, 1));
    await until(() => a.stats()['sent'] === 3000, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    // Loss is possible on UDP and counted by core; on an idle loopback a paced burst loses none.
    expect(n).toBe(3000);
  });

  it("sends a closing member's Leave, so a request to its handler fails with PeerLostError, not a timeout", async () => {
    const port = nextPort();
    const group = '239.255.10.5';
    const seen: { kind: number; origin: number }[] = [];
    const sniffer = await UdpEndpoint.open(group, port, {}, (payload) => {
      const e = decodeEnvelope(payload);
      seen.push({ kind: e.kind, origin: e.origin });
    });
    closers.push(sniffer);
    const handler = await createBus(`udp://${group}:${port}`);
    closers.push(handler);
    handler.handle('work', () => new Promise(() => undefined)); // never answers
    const requester = await createBus(`udp://${group}:${port}`);
    closers.push(requester);
    const failed = new Promise<unknown>((resolve) => {
      requester.request('work', 1, { timeout: 10_000 }).subscribe({ error: resolve, complete: () => resolve('done') });
    });
    // The handler's Ack is what tells the requester whom to hold responsible: wait for it.
    await until(() => seen.some((s) => s.kind === FrameKind.Ack), 5000);
    await new Promise((r) => setTimeout(r, 50)); // the requester reads the same datagram
    const left = Date.now();
    await handler.close();
    const err = await failed;
    // Before the fix the Leave was discarded with the send queue: TimeoutError after 10 s.
    expect(err).toBeInstanceOf(PeerLostError);
    expect(Date.now() - left).toBeLessThan(5000);
    expect(seen.some((s) => s.kind === FrameKind.Leave)).toBe(true);
  }, 20_000);

  it('close() sends what is still queued before closing the socket', async () => {
    const port = nextPort();
    const group = '239.255.10.6';
    const got: number[] = [];
    const receiver = await UdpEndpoint.open(group, port, {}, (payload) => got.push(payload.length));
    closers.push(receiver);
    const sender = await UdpEndpoint.open(group, port, {}, () => undefined);
    for (let i = 1; i <= 100; i += 1) sender.send(new Uint8Array(i));
    await sender.close(); // the queue is drained from setImmediate: nothing was sent yet
    expect(sender.stats()).toMatchObject({ sent: 100, sendErrors: 0, discardedAtClose: 0 });
    await until(() => got.length === 100);
  });

  it('close() waits at most closeFlushTimeout, then discards the rest and counts it', async () => {
    const sender = await UdpEndpoint.open(
      '239.255.10.7',
      nextPort(),
      { burst: 1, closeFlushTimeout: 0 },
      () => undefined,
    );
    for (let i = 0; i < 10_000; i += 1) sender.send(new Uint8Array(8));
    await sender.close();
    const s = sender.stats();
    expect(s.discardedAtClose).toBeGreaterThan(0);
    expect(s.sent + s.sendErrors + s.discardedAtClose).toBe(10_000);
  });

  it('drops and counts a captured datagram replayed after the replay window, even to a member that joined later', async () => {
    const port = nextPort();
    const group = '239.255.10.8';
    const window = { replayWindow: 300 };
    const receiver = await udp(group, port, 1, 'k3y', window);
    const sender = await udp(group, port, 2, 'k3y', window);
    // An eavesdropper without the key: keeps every datagram as it went over the wire.
    const captured: Uint8Array[] = [];
    const sniffer = await UdpEndpoint.open(group, port, {}, (datagram) => captured.push(Uint8Array.from(datagram)));
    closers.push(sniffer);
    const got: string[] = [];
    receiver.frames$.subscribe((f) => got.push(decodeEnvelope(f.bytes).topic));
    sender.send(frameOf('payments.transfer', 10, 2));
    await until(() => got.length === 1 && captured.length === 1);
    await new Promise((r) => setTimeout(r, 600)); // twice the window: the capture is now stale
    const late = await udp(group, port, 3, 'k3y', window);
    const lateGot: string[] = [];
    late.frames$.subscribe((f) => lateGot.push(decodeEnvelope(f.bytes).topic));
    const replayer = await UdpEndpoint.open(group, port, {}, () => undefined); // no key: sends the bytes as they are
    closers.push(replayer);
    replayer.send(captured[0] as Uint8Array);
    await until(() => late.stats()['stale'] === 1 || lateGot.length > 0);
    // Before: no freshness under the MAC, and the member that joined later took it as new.
    expect(lateGot).toEqual([]);
    await until(() => receiver.stats()['stale'] === 1);
    expect(got).toEqual(['payments.transfer']);
    expect(late.stats()['unauthenticated']).toBe(0); // the tag was good: it is stale, not forged
  });
});
