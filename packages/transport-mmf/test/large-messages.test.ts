import { BufferFullError, createBus, registerTransport, type Bus } from '@busway/core';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport } from '../src/index.js';
import { openPosixRing } from '../src/posix/posix-ring-mapping.js';
import { RingReader } from '../src/ring-reader.js';
import { SharedRing } from '../src/shared-ring.js';
// @ts-expect-error plain JavaScript fixture shared with the subscriber process
import { bigPayload } from './fixtures/big-payload.mjs';

registerTransport('mmf', createTransport);

const subscriberScript = fileURLToPath(new URL('./fixtures/big-subscriber.mjs', import.meta.url));
const MiB = 1 << 20;
const buses: Bus[] = [];
let n = 0;

const payloadOf = bigPayload as (index: number, length: number) => Uint8Array;
const newName = (): string => `large-${process.pid}-${++n}`;

async function bus(url: string): Promise<Bus> {
  const b = await createBus(url);
  buses.push(b);
  return b;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

describe('messages larger than the ring (overflow=lose, the default)', () => {
  it('reach a subscriber in the same process, intact, while a dead reader still holds a slot', async () => {
    const name = newName();
    const url = `mmf://${name}?size=64KiB`;
    const [a, b] = [await bus(url), await bus(url)];
    // A reader slot left by a process that is gone: waiting writers must drop it, not wait on it.
    const { pid: deadPid } = spawnSync(process.execPath, ['-e', '']);
    const mapping = await openPosixRing({ name, capacity: 64 * 1024, scope: 'local', initTimeoutMs: 500 });
    new RingReader(SharedRing.attach(mapping.buffer, name), { register: true, pid: deadPid ?? 999_999 });
    try {
      const got: Uint8Array[] = [];
      b.subscribe<Uint8Array>('big').subscribe((m) => got.push(m.data));
      for (let i = 0; i < 3; i++) await a.publish('big', payloadOf(i, MiB));
      await waitFor(() => got.length === 3, 10_000);
      expect(got.map((bytes, i) => Buffer.from(bytes).equals(payloadOf(i, MiB)))).toEqual([true, true, true]);
      expect(b.stats()['transport.framesLost']).toBe(0);
    } finally {
      await mapping.release();
    }
  });

  it('reach a subscriber in another process, intact', async () => {
    const url = `mmf://${newName()}?size=64KiB`;
    const child = spawn(process.execPath, [subscriberScript, url, '5', String(MiB)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (text: string) => lines.push(...text.split('\n').filter(Boolean)));
    await waitFor(() => lines.includes('ready'), 10_000);
    const a = await bus(url);
    await new Promise((r) => setTimeout(r, 100)); // the subscriber's interest reaches us
    for (let i = 0; i < 5; i++) await a.publish('big', payloadOf(i, MiB));
    await once(child, 'exit');
    expect(JSON.parse(lines.at(-1) ?? '{}')).toEqual({ got: 5, intact: 5 });
  });

  it('reject with BufferFullError, never vanish, when a live reader makes no room within waitTimeoutMs', async () => {
    const name = newName();
    const a = await bus(`mmf://${name}?size=64KiB&waitTimeoutMs=200`);
    // A reader of this (live) process that never reads: it holds its slot.
    const mapping = await openPosixRing({ name, capacity: 64 * 1024, scope: 'local', initTimeoutMs: 500 });
    const stuck = new RingReader(SharedRing.attach(mapping.buffer, name), { register: true });
    try {
      await expect(a.publish('big', payloadOf(0, MiB))).rejects.toBeInstanceOf(BufferFullError);
    } finally {
      stuck.close();
      await mapping.release();
    }
  });
});

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
