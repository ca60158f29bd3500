import { firstValueFrom, Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus, NoRespondersError, PeerLostError, registerTransport, type Bus, type Transport } from '@busway/core';
import { decodeEnvelope, encodeEnvelope, FrameKind, INBOX_PREFIX, type HubTransport } from '@busway/core/internal';
import { createTransport } from '../src/index.js';
import { closedAfter, prefix, rawHandshaken, until } from './helpers.js';
import { nextPort } from './ports.js';

// What a hub believes of its members: replies go to the requester alone, and nobody speaks for
// another member. Everything here goes through a real tcp:// hub.
registerTransport('tcp', createTransport);
const closers: Array<Bus | Transport> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()));
});

const SPY = 3;
let seq = 0;
const envelope = (kind: FrameKind, origin: number, topic: string): Uint8Array =>
  encodeEnvelope({ kind, origin, sequence: ++seq, topic });

/** The hub: a transport-level member, so the test sees every frame routed to it. */
async function hubSpy(url: string): Promise<{ hub: HubTransport; seen: Array<{ kind: number; topic: string }> }> {
  const hub = (await createTransport(new URL(url), {
    memberId: SPY,
    maxFrameSize: 1 << 20,
    options: {},
  })) as HubTransport;
  closers.push(hub);
  await hub.open();
  expect(hub.isHub).toBe(true);
  const seen: Array<{ kind: number; topic: string }> = [];
  hub.frames$.subscribe((f) => {
    const env = decodeEnvelope(f.bytes);
    seen.push({ kind: env.kind, topic: env.topic });
  });
  return { hub, seen };
}

async function bus(url: string): Promise<Bus> {
  const b = await createBus({ url });
  closers.push(b);
  return b;
}

/** A first request that succeeds: the handler's interest has reached the hub. */
async function warmUp(requester: Bus, topic: string): Promise<void> {
  for (const deadline = Date.now() + 5000; ;) {
    try {
      await firstValueFrom(requester.request(topic, 'warm-up', { timeout: 5000 }));
      return;
    } catch (err) {
      if (!(err instanceof NoRespondersError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

describe('tcp:// hub: inboxes and origins', () => {
  it('keeps a reply (and its ack) from a member subscribed to `>` or to the requester’s inbox', async () => {
    const url = `tcp://127.0.0.1:${nextPort()}`;
    const { hub: spy, seen } = await hubSpy(url);
    const b = await bus(url);
    // Slow enough that B acks first: an Ack and a Reply go to A's inbox.
    b.handle<string, string>('svc.echo', async (m) => {
      await new Promise((r) => setTimeout(r, 20));
      return `echo ${m.data}`;
    });
    const a = await bus(url);
    await warmUp(a, 'svc.echo');
    for (const pattern of ['>', '_INBOX.*', INBOX_PREFIX + a.id]) spy.send(envelope(FrameKind.Subscribe, SPY, pattern));
    // The spy's interest is in place once it sees a publish through `>`.
    await a.publish('sync.before', 1);
    await until(() => seen.some((s) => s.topic === 'sync.before'));

    expect(await firstValueFrom(a.request('svc.echo', 'hi', { timeout: 5000 }))).toBe('echo hi');
    // Anything routed to the spy for that request came before this (one hub, one ordered link).
    await a.publish('sync.after', 1);
    await until(() => seen.some((s) => s.topic === 'sync.after'));
    expect(seen.filter((s) => s.topic.startsWith(INBOX_PREFIX))).toEqual([]);
    expect(seen.map((s) => s.topic)).toEqual(['sync.before', 'sync.after']);
    expect(spy.stats()['foreignInbox']).toBe(2); // `_INBOX.*` and A's inbox
  });

  it('does not believe a Leave that a connection forges for another member', async () => {
    const port = nextPort();
    const url = `tcp://127.0.0.1:${port}`;
    const { hub } = await hubSpy(url);
    const b = await bus(url);
    // A stream: its first value tells A who answers (a Leave for that member would fail the
    // request), and the rest waits for the test.
    const finish: Array<() => void> = [];
    b.handle<string, string>('svc.stream', (m) =>
      m.data === 'warm-up'
        ? 'ready'
        : new Observable<string>((sub) => {
            sub.next('started');
            finish.push(() => {
              sub.next('done');
              sub.complete();
            });
          }),
    );
    const a = await bus(url);
    await warmUp(a, 'svc.stream');

    const values: string[] = [];
    const outcome = new Promise<string>((resolve) =>
      a.request<string>('svc.stream', 'go', { timeout: 5000 }).subscribe({
        next: (v) => values.push(v),
        complete: () => resolve(values.join(' ')),
        error: (err: Error) => resolve(`${err.name}: ${err.message}`),
      }),
    );
    await until(() => values.length === 1);

    const raw = await rawHandshaken(port);
    const leave = envelope(FrameKind.Leave, parseInt(b.id, 36), '_LEAVE');
    raw.write(Buffer.concat([prefix(leave.length), leave]));
    // The hub drops the Leave and closes the forger. Had it forwarded it, A would have failed the
    // request with PeerLostError before the forger's link was gone (it never would be).
    const first = await Promise.race([closedAfter(raw).then(() => 'forger closed'), outcome]);
    expect(first).toBe('forger closed');
    expect(hub.stats()['spoofed']).toBe(1);
    expect(hub.stats()['badFrames']).toBe(1);
    (finish[0] as () => void)();
    expect(await outcome).toBe('started done');
  });

  it('fails a request with PeerLostError when its handler’s member goes before acknowledging it', async () => {
    const url = `tcp://127.0.0.1:${nextPort()}`;
    const { hub, seen } = await hubSpy(url);
    // The handler is a bare member that drops its connection on the request: no Ack and no Leave
    // leave it, as when its process is killed. (A bus that closes acks its requests first.)
    const HANDLER = 77;
    const handler = await createTransport(new URL(url), { memberId: HANDLER, maxFrameSize: 1 << 20, options: {} });
    closers.push(handler);
    await handler.open();
    handler.frames$.subscribe((f) => {
      if (decodeEnvelope(f.bytes).kind === FrameKind.Request) void handler.close();
    });
    hub.send(envelope(FrameKind.Subscribe, SPY, 'ready'));
    handler.send(envelope(FrameKind.Handle, HANDLER, 'work'));
    // Frames of one link are routed in order: once `ready` is through, so is the Handle.
    handler.send(envelope(FrameKind.Publish, HANDLER, 'ready'));
    await until(() => seen.some((f) => f.topic === 'ready'));
    const requester = await bus(url);
    // The timeout is far off: failing with anything but PeerLostError means the hub did not tell.
    const failure = await firstValueFrom(requester.request('work', 1, { timeout: 20_000 })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PeerLostError);
    expect(failure).toMatchObject({ code: 'PEER_LOST', member: HANDLER.toString(36) });
    expect(hub.stats()['peerLost']).toBe(1);
  });
});
