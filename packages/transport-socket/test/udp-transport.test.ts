import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameTooLargeError } from '@busway/core';
import { decodeEnvelope } from '@busway/core/internal';
import { UdpEndpoint, UdpTransport } from '../src/index.js';
import { frameOf, until } from './helpers.js';
import { nextPort } from './ports.js';

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
});
async function udp(group: string, port: number, memberId: number, secret?: string): Promise<UdpTransport> {
  const t = new UdpTransport(group, port, { memberId }, secret === undefined ? {} : { secret });
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
    expect(a.capabilities.maxFrameSize).toBe(1200 - 16);
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
});
