import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { socketAddress, UnixDatagramSocket, type ReceivedDatagram } from '../src/posix/UnixDatagramSocket.js';
import { newBase, until } from './helpers.js';

const { base, remove } = newBase();
afterAll(remove);

it('carries datagrams whole, reports truncation, and never blocks the event loop', async () => {
  const got: ReceivedDatagram[] = [];
  const receiver = UnixDatagramSocket.bind(join(base, 'r.sock'), 1000, (d) =>
    got.push({ ...d, bytes: d.bytes.slice() }),
  );
  const sender = UnixDatagramSocket.bind(join(base, 's.sock'), 1000, () => {});
  const to = socketAddress(receiver.path);
  // The loop keeps running while the pump waits on its worker thread.
  let ticks = 0;
  const timer = setInterval(() => (ticks += 1), 1);
  await new Promise((r) => setTimeout(r, 30));
  expect(ticks).toBeGreaterThan(3);
  clearInterval(timer);
  expect(sender.sendTo(to, new Uint8Array([1, 2, 3]))).toBe('sent');
  expect(sender.sendTo(to, new Uint8Array(1000).fill(7))).toBe('sent');
  expect(sender.sendTo(to, new Uint8Array(1001).fill(8))).toBe('sent');
  await until(() => got.length === 3);
  expect(got[0]).toEqual({ bytes: new Uint8Array([1, 2, 3]), truncated: false, length: 3 });
  expect(got[1]?.truncated).toBe(false);
  expect(got[1]?.bytes.length).toBe(1000);
  expect(got[2]?.truncated).toBe(true);
  expect(got[2]?.length).toBe(1001);
  await sender.close();
  await receiver.close();
  expect(existsSync(receiver.path)).toBe(false);
});

it("reports 'full' when the receiver's queue is full, and 'gone' when nobody is bound", async () => {
  const receiver = UnixDatagramSocket.bind(join(base, 'slow.sock'), 100, () => {});
  const sender = UnixDatagramSocket.bind(join(base, 'fast.sock'), 100, () => {});
  const to = socketAddress(receiver.path);
  // Linux queues net.unix.max_dgram_qlen (10 by default) datagrams per receiver; well before 10000
  // synchronous sends the queue is full, because the receiver only drains on a later loop turn.
  const outcomes = new Set<string>();
  for (let i = 0; i < 10_000 && !outcomes.has('full'); i += 1) outcomes.add(sender.sendTo(to, new Uint8Array(10)));
  expect(outcomes.has('full')).toBe(true);
  await receiver.close();
  expect(sender.sendTo(to, new Uint8Array(1))).toBe('gone');
  await sender.close();
});
