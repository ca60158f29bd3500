import { firstValueFrom, filter } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createBus, registerTransport, type Bus, type ConnectionState } from '@busway/core';
import { createTransport } from '../src/index.js';
import { startMember, type MemberProcess } from './member-process.js';
import { nextPort } from './ports.js';

registerTransport('tcp', createTransport);
const buses: Bus[] = [];
const children: MemberProcess[] = [];
afterAll(async () => {
  for (const m of children) m.child.kill('SIGKILL');
  await Promise.all(buses.map((b) => b.close()));
});

const backOpen = (bus: Bus, since: number): Promise<number> =>
  firstValueFrom(bus.state$.pipe(filter((s: ConnectionState) => s === 'reconnecting'))).then(() =>
    firstValueFrom(bus.state$.pipe(filter((s: ConnectionState) => s === 'open'))).then(() => Date.now() - since),
  );

describe('tcp:// hub failover', () => {
  it('survives kill -9 of the hub process while messages flow: every member back within 1 s, losses confined to the gap', async () => {
    const url = `tcp://127.0.0.1:${nextPort()}`;
    // The hub is another OS process, so it can really be killed with SIGKILL.
    const hub = startMember(url);
    children.push(hub);
    await hub.ready;
    const other = startMember(url); // a member in a third process: must come back and answer
    children.push(other);
    await other.ready;
    const publisher = await createBus({ url });
    const subscriber = await createBus({ url });
    buses.push(publisher, subscriber);

    const received = new Set<number>();
    subscriber.subscribe<number>('flow.n').subscribe((m) => received.add(m.data));
    // Wait until the subscriber's interest has reached the hub: an echo proves the path works.
    await firstValueFrom(subscriber.request('echo', 'warm-up', { timeout: 5000 }));
    await new Promise((r) => setTimeout(r, 100));

    const TOTAL = 2000;
    let killAt = 0;
    let killSeq = -1;
    let publishErrors = 0;
    let backAt: Promise<number[]> | undefined;
    const sendTimes: number[] = [];
    const started = Date.now();
    for (let i = 0; i < TOTAL && Date.now() - started < 20_000; i += 1) {
      if (i === 500) {
        killAt = Date.now();
        killSeq = i;
        backAt = Promise.all([backOpen(publisher, killAt), backOpen(subscriber, killAt)]);
        hub.child.kill('SIGKILL');
      }
      sendTimes.push(Date.now());
      await publisher.publish('flow.n', i).catch(() => (publishErrors += 1));
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1)); // ~ a message per 0.1 ms, with pauses
    }
    const [publisherBack, subscriberBack] = await (backAt as Promise<number[]>);
    await new Promise((r) => setTimeout(r, 500));

    // The member in the third process is back too: it answers a request through the new hub.
    const answer = await firstValueFrom(publisher.request<{ pid: number }>('echo', 'after', { timeout: 3000 }));
    expect(answer.pid).toBe(other.child.pid);

    const lost: number[] = [];
    for (let i = 0; i < TOTAL; i += 1) if (!received.has(i)) lost.push(i);
    const reopened = killAt + Math.max(publisherBack, subscriberBack);
    const lostAfterSettled = lost.filter((i) => (sendTimes[i] as number) > reopened + 200);
    const report = {
      takeoverMs: { publisher: publisherBack, subscriber: subscriberBack },
      sent: TOTAL,
      received: received.size,
      lost: lost.length,
      lostRange: lost.length > 0 ? [lost[0], lost[lost.length - 1]] : [],
      killedAtMessage: killSeq,
      publishErrors,
    };
    console.log(`hub failover report: ${JSON.stringify(report)}`);

    expect(publisherBack).toBeLessThan(1000);
    expect(subscriberBack).toBeLessThan(1000);
    expect(publishErrors).toBe(0); // buffered while reconnecting, never rejected at this rate
    // Everything sent well before the kill, and everything sent once all were back, arrived.
    expect(lost.filter((i) => i < killSeq - 100)).toEqual([]);
    expect(lostAfterSettled).toEqual([]);
  });
});
