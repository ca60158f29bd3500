import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentUserSid, openHandles, Win32Error } from '@busway/win32';
import { Mailslot, MailslotWriter } from '../../src/index.js';
import { buildFixtures, run } from './buildFixtures.js';

/** Wine maps drive Z: to the Linux root; Windows has no Z:\\usr\\bin. */
const UNDER_WINE = existsSync('Z:\\usr\\bin');
const unique = (tag: string): string => `busway-test-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;

let exes: Record<string, string> = {};
beforeAll(async () => {
  exes = await buildFixtures(['mailslot-writer', 'mailslot-reader']);
}, 120_000);
afterAll(() => expect(openHandles()).toEqual([]));

describe('Mailslot and MailslotWriter (no busway framing)', () => {
  it('a plain C writer (CreateFileW + WriteFile) → Mailslot.messages$', async () => {
    const name = unique('from-c');
    const slot = Mailslot.create(name);
    // Wine cannot associate a mailslot with a completion port (ERROR_INVALID_PARAMETER), so reads
    // are polled there; on Windows the mode depends on the handle CreateMailslotW returns.
    if (UNDER_WINE) expect(slot.readMode).toBe('polled');
    const got = firstValueFrom(slot.messages$.pipe(take(3), toArray()));
    const code = await run(exes['mailslot-writer'] as string, [name, 'hello', 'wörld', '--bytes']);
    expect(code).toBe(0);
    const messages = (await got).map((m) => Buffer.from(m).toString('utf8'));
    expect(messages).toEqual(['hello', 'wörld', '--bytes']);
    await slot.close();
  });

  it('a 60 000-byte message from C arrives whole', async () => {
    const name = unique('big');
    const slot = Mailslot.create(name);
    const got = firstValueFrom(slot.messages$);
    expect(await run(exes['mailslot-writer'] as string, [name, '--bytes', '60000'])).toBe(0);
    const bytes = await got;
    expect(bytes.length).toBe(60_000);
    expect(bytes.every((b, i) => b === i % 251)).toBe(true);
    await slot.close();
  });

  it('MailslotWriter → a plain C reader (CreateMailslotW + ReadFile)', async () => {
    const name = unique('to-c');
    const out = join(process.env.TEMP ?? 'Z:\\tmp', `${name}.txt`);
    const reader = run(exes['mailslot-reader'] as string, [name, '2', out]);
    // The reader creates the slot when it starts; wait until it can be opened.
    let writer: MailslotWriter | undefined;
    for (let i = 0; i < 200 && writer === undefined; i += 1) {
      try {
        writer = MailslotWriter.open(name);
      } catch (err) {
        if (!(err instanceof Win32Error)) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(writer).toBeDefined();
    writer?.write(new TextEncoder().encode('from busway'));
    writer?.write(new Uint8Array([0, 1, 2, 255]));
    writer?.close();
    expect(await reader).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8').split(/\r?\n/).filter(Boolean)).toEqual([
      `11 ${Buffer.from('from busway').toString('hex')}`,
      '4 000102ff',
      'done',
    ]);
  });

  it('only one owner per name; a missing slot cannot be opened; a message over the limit never wedges the slot', async () => {
    const name = unique('owner');
    const slot = Mailslot.create(name, { maxMessageSize: 16 });
    expect(() => Mailslot.create(name)).toThrow(Win32Error);
    expect(() => MailslotWriter.open(unique('missing'))).toThrow(/ERROR_FILE_NOT_FOUND|ERROR_PATH_NOT_FOUND/);
    const writer = MailslotWriter.open(name);
    const got = firstValueFrom(slot.messages$.pipe(take(UNDER_WINE ? 2 : 1), toArray()));
    // Windows refuses a message over the slot's limit in WriteFile. Wine 8 accepts it and delivers
    // it cut to the limit (observed here: no error, then 16 of the 17 bytes). Either way the slot
    // keeps working; the transport drops such a cut frame as garbage (its lengths do not add up).
    let refused = false;
    try {
      writer.write(new Uint8Array(17));
    } catch (err) {
      expect(err).toBeInstanceOf(Win32Error);
      refused = true;
    }
    expect(refused).toBe(!UNDER_WINE);
    writer.write(new Uint8Array(16).fill(1));
    const messages = await got;
    expect(messages.map((m) => m.length)).toEqual(UNDER_WINE ? [16, 16] : [16]);
    expect(messages.map((m) => m[0])).toEqual(UNDER_WINE ? [0, 1] : [1]);
    writer.close();
    await slot.close();
  });

  it('is private by default: the DACL read back grants only the user and SYSTEM; a custom SDDL is applied', async () => {
    // Wine stores and returns a DACL faithfully but does not check every open against it, so what
    // is asserted is the DACL read back, as in @busway/win32's own tests.
    const slot = Mailslot.create(unique('dacl'));
    const aces = slot.dacl().match(/\([^)]*\)/g) ?? [];
    expect(slot.dacl()).toMatch(/^D:P/);
    expect(aces).toHaveLength(2);
    expect(aces.some((ace) => ace.endsWith(';;;SY)'))).toBe(true);
    expect(aces.some((ace) => ace.endsWith(`;;;${currentUserSid()})`))).toBe(true);
    expect(slot.dacl()).not.toMatch(/;;;(WD|AN|BU|AU)\)/);
    await slot.close();
    // A user-only DACL (a SYSTEM-only one is refused to its own creator under Wine:
    // CreateMailslotW fails with ERROR_ACCESS_DENIED, observed here).
    const userOnly = Mailslot.create(unique('dacl-user'), { sddl: `D:P(A;;GA;;;${currentUserSid()})` });
    expect(userOnly.dacl()).toMatch(new RegExp(`^D:P\\(A;;[A-Z0-9x]+;;;${currentUserSid()}\\)$`));
    await userOnly.close();
  });

  it('Mailslot ↔ MailslotWriter in one process, in order, without blocking the loop', async () => {
    const name = unique('self');
    const slot = Mailslot.create(name);
    const got = firstValueFrom(slot.messages$.pipe(take(100), toArray()));
    const writer = MailslotWriter.open(name);
    for (let i = 0; i < 100; i += 1) writer.write(new Uint8Array([i]));
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 1);
    const messages = await got;
    clearInterval(timer);
    expect(messages.map((m) => m[0])).toEqual([...Array(100).keys()]);
    writer.close();
    await slot.close();
    void ticks;
  });
});
