/**
 * Requests through a hub's router end to end, over the memory transport (whose domain routes with
 * the same InterestRouter as tcp://, tls:// and pipe:// hubs).
 */
import { firstValueFrom, NEVER } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, createBus } from '../src/index.js';

let counter = 0;
const buses: Bus[] = [];
async function join(target: string): Promise<Bus> {
  const bus = await createBus(target);
  buses.push(bus);
  return bus;
}
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

describe('requests through a hub', () => {
  it('delivers a request larger than a frame whole to one of several handlers, every time', async () => {
    counter += 1;
    const url = `memory://hub-requests-${counter}?maxFrameSize=4096`;
    const [h1, h2, requester] = [await join(url), await join(url), await join(url)];
    const served: string[] = [];
    for (const [name, bus] of [
      ['h1', h1],
      ['h2', h2],
    ] as const) {
      bus.handle<Uint8Array>('svc', (req) => {
        served.push(name);
        return { by: name, length: req.data.length, last: req.data[req.data.length - 1] };
      });
    }
    const big = new Uint8Array(20_000).map((_, i) => i % 251); // five fragments of 4 KiB
    for (let i = 0; i < 4; i += 1) {
      const reply = await firstValueFrom(
        requester.request<{ length: number; last: number }>('svc', big, { timeout: 3000 }),
      );
      expect(reply).toMatchObject({ length: big.length, last: big[big.length - 1] });
    }
    expect(served.sort()).toEqual(['h1', 'h1', 'h2', 'h2']); // the load is still shared
  });

  it('fails a request at once with PeerLostError when its handler’s member goes before acknowledging it', async () => {
    counter += 1;
    const url = `memory://hub-requests-${counter}`;
    const [server, requester] = [await join(url), await join(url)];
    server.handle('work', () => {
      // The member dies while its handler runs: before its deferred Ack could go out.
      void server.close();
      return NEVER;
    });
    // The timeout is far off: failing with anything but PeerLostError means the hub did not tell.
    const failure = await firstValueFrom(requester.request('work', 1, { timeout: 20_000 })).catch((e: unknown) => e);
    expect(failure).toMatchObject({
      name: 'PeerLostError',
      code: 'PEER_LOST',
      message: expect.stringContaining(`member ${server.id} `) as unknown,
    });
    expect(requester.stats().pendingRequests).toBe(0);
  });
});
