import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createBus, FrameKind, PeerLostError, registerTransport, type Bus, type Message } from '@busway/core';
import { decodeEnvelope, encodeEnvelope } from '@busway/core/internal';
import { ControlType, encodeControl } from '../src/ControlDatagram.js';
import { FrameAuthenticator } from '../src/FrameAuthenticator.js';
import { MailslotTransport } from '../src/MailslotTransport.js';
import { LinuxConstants as C, loadLibc } from '../src/posix/libc.js';
import { openPosixLink } from '../src/posix/PosixDatagramLink.js';
import { SlotDirectory } from '../src/posix/SlotDirectory.js';
import { socketAddress, UnixDatagramSocket } from '../src/posix/UnixDatagramSocket.js';
import { faultyLink, type LinkFaults } from './FaultyLink.js';
import { newBase, openBus, uniqueBus, until } from './helpers.js';

const { base, remove } = newBase();
afterAll(remove);

const open: Bus[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});

async function join2(url: string, transportOptions: Record<string, unknown> = {}, busOptions = {}): Promise<Bus> {
  const bus = await openBus(url, base, busOptions, transportOptions);
  open.push(bus);
  return bus;
}

function slotDir(bus: string): string {
  return SlotDirectory.open(bus, base).path;
}

/** Collect the `n` field of every message on `pattern`. */
function collect(bus: Bus, pattern: string): number[] {
  const got: number[] = [];
  bus.subscribe<{ n: number }>(pattern).subscribe((m: Message<{ n: number }>) => got.push(m.data.n));
  return got;
}

let faults: LinkFaults = {};
registerTransport('mailslot-faulty', (url, context) => {
  const address = { bus: url.hostname, domain: false };
  const options = context.options as { directory: string };
  return new MailslotTransport(
    address,
    context.memberId,
    context.maxFrameSize,
    { heartbeatMs: 200, ...context.options },
    (onDatagram) =>
      Promise.resolve(
        faultyLink(
          openPosixLink(address, context.memberId, 65536, options.directory, onDatagram),
          faults,
          slotDir(address.bus),
        ),
      ),
  );
});

/** The `n` of a datagram carrying a Publish on `n.<k>`, else undefined. */
function nOf(datagram: Uint8Array): number | undefined {
  try {
    const env = decodeEnvelope(datagram);
    return env.kind === FrameKind.Publish && env.topic.startsWith('n.') ? Number(env.topic.slice(2)) : undefined;
  } catch {
    return undefined;
  }
}

describe('membership', () => {
  it('members find each other without a central process and deliver to all but the sender', async () => {
    const url = `mailslot://${uniqueBus()}`;
    const [a, b, c] = [await join2(url), await join2(url), await join2(url)];
    const got = { a: collect(a, 'x'), b: collect(b, 'x'), c: collect(c, 'x') };
    await a.publish('x', { n: 1 });
    await c.publish('x', { n: 2 });
    // The bus hands a member its own publishes locally; the transport carries them to the others.
    await until(() => got.a.length === 2 && got.b.length === 2 && got.c.length === 2);
    expect([got.a.sort(), got.b.sort(), got.c.sort()]).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    expect(a.stats()['transport.members']).toBe(2);
  });

  it('a member that closes is removed at once (Bye), and a request to it fails with PeerLostError', async () => {
    const url = `mailslot://${uniqueBus()}`;
    const a = await join2(url);
    const b = await openBus(url, base);
    b.handle('slow', () => new Promise(() => {}));
    await until(() => a.stats()['transport.members'] === 1);
    const reply = firstValueFrom(a.request('slow', null, { timeout: 5000 }));
    await new Promise((r) => setTimeout(r, 50));
    await b.close();
    await expect(reply).rejects.toBeInstanceOf(PeerLostError);
    expect(a.stats()['transport.members']).toBe(0);
    expect(readdirSync(slotDir(url.slice(11)))).toHaveLength(1);
  });

  it('a member that crashed (socket file left, nobody bound) is found gone and its file removed', async () => {
    const bus = uniqueBus();
    const url = `mailslot://${bus}`;
    const a = await join2(url);
    // A crash, at the OS level: bind, say Hello, close the descriptor without unlinking.
    const libc = loadLibc();
    const path = join(slotDir(bus), '12345.sock');
    const fd = libc.socket(C.AF_UNIX, C.SOCK_DGRAM, 0);
    const addr = socketAddress(path);
    expect(libc.bind(fd, addr, addr.length)).toBe(0);
    const hello = encodeControl({ type: ControlType.Hello, member: 12345, key: '12345.sock' });
    const [aKey] = readdirSync(slotDir(bus)).filter((k) => k !== '12345.sock');
    libc.sendto(fd, hello, hello.length, 0, socketAddress(join(slotDir(bus), aKey as string)), C.SOCKADDR_UN_SIZE);
    await until(() => a.stats()['transport.members'] === 1, 3000, 'the Hello');
    libc.close(fd);
    await until(() => a.stats()['transport.membersLeft'] === 1, 3000, 'the departure');
    expect(existsSync(path)).toBe(false);
  });
});

describe('silence', () => {
  it('a member whose slot exists but which stopped heartbeating is gone after memberTimeoutMs', async () => {
    const bus = uniqueBus();
    const a = await join2(`mailslot://${bus}`, { heartbeatMs: 50, memberTimeoutMs: 300 });
    // Alive at the OS level (bound), but silent after one Hello: a hung process.
    const [aKey] = readdirSync(slotDir(bus));
    const silent = UnixDatagramSocket.bind(join(slotDir(bus), '777.sock'), 100, () => {});
    silent.sendTo(
      socketAddress(join(slotDir(bus), aKey as string)),
      encodeControl({ type: ControlType.Hello, member: 777, key: '777.sock' }),
    );
    await until(() => a.stats()['transport.members'] === 1, 3000, 'the Hello');
    const t0 = Date.now();
    await until(() => a.stats()['transport.membersLeft'] === 1, 3000, 'the timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    await silent.close();
  });
});

describe('faults', () => {
  it('hostile datagrams are dropped and counted; the member carries on', async () => {
    const bus = uniqueBus();
    const url = `mailslot://${bus}`;
    const a = await join2(url);
    const b = await join2(url, {}, { maxFrameSize: 1 << 20 });
    const got = collect(b, 'x');
    await until(() => a.stats()['transport.members'] === 1);
    const attacker = UnixDatagramSocket.bind(join(slotDir(bus), 'attacker'), 10, () => {});
    const valid = encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 99,
      sequence: 1,
      topic: 'x',
      payload: new Uint8Array(8),
    });
    const send = (bytes: Uint8Array): void => {
      for (const key of readdirSync(slotDir(bus)))
        if (key.endsWith('.sock')) attacker.sendTo(socketAddress(join(slotDir(bus), key)), bytes);
    };
    send(new Uint8Array(70_000)); // oversized: truncated by the receive buffer
    send(new Uint8Array([1, 2, 3])); // garbage
    send(valid.subarray(0, valid.length - 3)); // truncated envelope
    send(encodeControl({ type: ControlType.Hello, member: 5, key: '../../../etc/x.sock' })); // path traversal
    send(new Uint8Array([0x42, 0x4b, 1, 0, 0, 0, 0, 9, 1])); // a batch whose entry runs past its end
    await a.publish('x', { n: 1 });
    await until(() => got.length === 1);
    const stats = b.stats();
    expect(stats['transport.datagramsOversized']).toBe(1);
    expect(stats['transport.datagramsGarbage']).toBe(4);
    expect(got).toEqual([1]);
    await attacker.close();
  });

  it('exactly once through duplicates (same slot twice, and through a second path), losses and reordering; losses reported', async () => {
    const url = `mailslot-faulty://${uniqueBus()}`;
    const lost = new Set([10, 20, 30]);
    const copies = { count: 0 };
    faults = {
      copies,
      drop: (d) => lost.has(nOf(d) ?? -1),
      duplicate: (d) => (nOf(d) ?? 1) % 5 === 0,
      secondPath: (d) => (nOf(d) ?? 1) % 7 === 0,
      reorder: (d) => (nOf(d) ?? 1) % 11 === 3,
    };
    // Frames one per datagram: the faults here act on single frames (batches are tested apart).
    const options = { url, dedupWindow: 32, transportOptions: { directory: base, batchBytes: 0 } };
    const a = await createBus(options);
    const b = await createBus(options);
    open.push(a, b);
    const got: number[] = [];
    b.subscribe<{ n: number }>('n.*').subscribe((m) => got.push(m.data.n));
    await until(() => a.stats()['transport.members'] === 1);
    const total = 200;
    for (let n = 0; n < total; n += 1) await a.publish(`n.${n}`, { n });
    await until(() => got.length === total - lost.size, 5000, 'delivery');
    // Let any straggler copies arrive before judging "exactly once".
    await new Promise((r) => setTimeout(r, 100));
    expect(got.length).toBe(total - lost.size);
    expect(new Set(got).size).toBe(got.length);
    expect(got.filter((n) => lost.has(n))).toEqual([]);
    expect(got.some((n, i) => i > 0 && n < (got[i - 1] as number))).toBe(true); // reordering happened
    const stats = b.stats();
    expect(copies.count).toBeGreaterThan(40);
    expect(stats.duplicates).toBe(copies.count);
    expect(stats.gaps).toBe(lost.size);
    faults = {};
  });

  it('packs the frames waiting for a full peer into batch datagrams: all arrive, once, in order', async () => {
    const url = `mailslot://${uniqueBus()}`;
    const a = await join2(url);
    const b = await join2(url);
    const got = collect(b, 'n');
    await until(() => a.stats()['transport.members'] === 1);
    // Published without waiting: the receiver (same process) cannot read until we yield, so its
    // 10-datagram queue fills and the rest waits in the backlog, to be sent packed.
    const total = 2000;
    for (let n = 0; n < total; n += 1) void a.publish('n', { n });
    await until(() => got.length === total, 10_000, 'delivery');
    expect(got).toEqual([...Array(total).keys()]);
    expect(a.stats()['transport.batchesSent']).toBeGreaterThan(0);
    expect(b.stats().duplicates).toBe(0);
    expect(b.stats()['transport.datagramsGarbage']).toBe(0);
  });

  it('fragments messages larger than a datagram and reassembles them', async () => {
    const url = `mailslot://${uniqueBus()}`;
    const a = await join2(url);
    const b = await join2(url);
    const got: Uint8Array[] = [];
    b.subscribe<Uint8Array>('big').subscribe((m) => got.push(m.data));
    await until(() => a.stats()['transport.members'] === 1);
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    await a.publish('big', big);
    await until(() => got.length === 1);
    expect(Buffer.from(got[0] as Uint8Array).equals(Buffer.from(big))).toBe(true);
    expect(a.capabilities.maxFrameSize).toBe(65536);
  });

  it('mailslot://*/bus caps frames at 424 bytes (388 with a key) and still carries large messages', async () => {
    const url = `mailslot://*/${uniqueBus()}`;
    const a = await join2(url);
    const b = await join2(url);
    expect(a.capabilities.maxFrameSize).toBe(424);
    expect(a.capabilities.ordered).toBe(false);
    const got: Uint8Array[] = [];
    b.subscribe<Uint8Array>('big').subscribe((m) => got.push(m.data));
    await until(() => a.stats()['transport.members'] === 1);
    await a.publish('big', new Uint8Array(5000).fill(3));
    await until(() => got.length === 1);
    expect(got[0]?.length).toBe(5000);
    const keyed = await join2(`mailslot://*/${uniqueBus()}`, { key: 'k'.repeat(32) });
    expect(keyed.capabilities.maxFrameSize).toBe(388);
  });
});

describe('with a shared key', () => {
  const key = 'correct horse battery staple 123';

  it('drops forged and replayed datagrams; a forged future sequence cannot suppress the real frame', async () => {
    const bus = uniqueBus();
    const url = `mailslot-faulty://${bus}`;
    const sent: Uint8Array[] = [];
    faults = { tap: (d) => sent.push(d.slice()) };
    const a = await createBus({ url, transportOptions: { directory: base, key } });
    faults = {};
    // The receiver is a plain keyed mailslot member.
    const b = await join2(`mailslot://${bus}`, { key });
    open.push(a);
    const got = collect(b, 'n.*');
    await until(() => a.stats()['transport.members'] === 1);
    await a.publish('n.1', { n: 1 });
    await until(() => got.length === 1);

    const attacker = UnixDatagramSocket.bind(join(slotDir(bus), 'attacker'), 10, () => {});
    const toAll = (bytes: Uint8Array): void => {
      for (const k of readdirSync(slotDir(bus)))
        if (k.endsWith('.sock')) attacker.sendTo(socketAddress(join(slotDir(bus), k)), bytes);
    };
    // 1. A replay of the real, authentic datagram.
    toAll(sent[sent.length - 1] as Uint8Array);
    // 2. Poisoning attempt: A's origin, a far-future sequence, sealed with a wrong key.
    const origin = decodeEnvelope((sent[0] as Uint8Array).subarray(0, (sent[0] as Uint8Array).length - 36)).origin;
    const future = encodeEnvelope({
      kind: FrameKind.Publish,
      origin,
      sequence: 1_000_000,
      topic: 'n.666',
      payload: new Uint8Array([0x90]),
    });
    toAll(new FrameAuthenticator('an attacker key, 32 bytes long..', bus, origin).seal(future));
    // 3. The same forged frame with no trailer at all.
    toAll(future);
    await until(
      () =>
        (b.stats()['transport.datagramsUnauthenticated'] as number) >= 2 &&
        (b.stats()['transport.datagramsReplayed'] as number) >= 1,
    );
    // The real next frames still arrive: nothing moved B's windows.
    await a.publish('n.2', { n: 2 });
    await a.publish('n.3', { n: 3 });
    await until(() => got.length === 3);
    expect(got).toEqual([1, 2, 3]);
    expect(b.stats().duplicates).toBe(0);
    await attacker.close();
  });

  it('an unkeyed member cannot talk to keyed ones', async () => {
    const url = `mailslot://${uniqueBus()}`;
    const keyed = await join2(url, { key });
    const plain = await join2(url);
    const got = collect(keyed, 'x');
    await new Promise((r) => setTimeout(r, 300));
    await plain.publish('x', { n: 1 });
    await until(() => (keyed.stats()['transport.datagramsUnauthenticated'] as number) >= 1);
    expect(got).toEqual([]);
  });
});
