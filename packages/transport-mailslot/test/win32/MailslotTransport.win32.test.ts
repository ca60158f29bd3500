import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { createBus, registerTransport, type Bus } from '@busway/core';
import { openHandles } from '@busway/win32';
import { createTransport, Mailslot, MailslotWriter } from '../../src/index.js';

registerTransport('mailslot', createTransport);
const UNDER_WINE = existsSync('Z:\\usr\\bin');
const bus = (): string => `ms-${process.pid}-${randomBytes(3).toString('hex')}`;
const until = async (predicate: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

afterAll(() => expect(openHandles()).toEqual([]));

it('members claim slot indexes 0, 1, 2 and learn each other; a closed member leaves at once', async () => {
  const name = bus();
  const url = `mailslot://${name}`;
  const options = { transportOptions: { heartbeatMs: 200 } };
  const members: Bus[] = [];
  for (let i = 0; i < 3; i += 1) members.push(await createBus({ url, ...options }));
  const [a, b, c] = members as [Bus, Bus, Bus];
  // The slots exist under the documented names: index i is \\.\mailslot\busway\<bus>\<i>.
  for (let i = 0; i < 3; i += 1) MailslotWriter.open(`busway\\${name}\\${i}`).close();
  expect(() => Mailslot.create(`busway\\${name}\\1`)).toThrow();
  await until(() => [a, b, c].every((m) => m.stats()['transport.members'] === 2));
  const got: number[] = [];
  c.subscribe<number>('x').subscribe((m) => got.push(m.data));
  await new Promise((r) => setTimeout(r, 100));
  await a.publish('x', 1);
  await b.publish('x', 2);
  await until(() => got.length === 2);
  expect(got.sort()).toEqual([1, 2]);
  await b.close();
  await until(() => a.stats()['transport.members'] === 1 && c.stats()['transport.members'] === 1);
  expect(a.stats()['transport.membersLeft']).toBe(1);
  await a.close();
  await c.close();
});

it('mailslot://*/bus: 424-byte frames; under Wine \\\\*\\mailslot\\… cannot be opened, so no peer is ever found', async () => {
  const url = `mailslot://*/${bus()}`;
  const a = await createBus({ url, transportOptions: { heartbeatMs: 200 } });
  expect(a.capabilities.maxFrameSize).toBe(424);
  if (UNDER_WINE) {
    expect(() => MailslotWriter.open('\\\\*\\mailslot\\anything')).toThrow(/ERROR_PATH_NOT_FOUND/);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.stats()['transport.members']).toBe(0);
  }
  await a.close();
});
