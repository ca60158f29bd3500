import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { Win32Handle, createEvent, leakedHandles, openHandles, setEvent } from '../src/index.js';
import { kernel32 } from '../src/internal.js';
import { uniqueName } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('Win32Handle', () => {
  it('closes exactly once, is listed while open, and refuses its value after close', () => {
    const event = createEvent({ name: uniqueName('h') });
    const raw = event.value;
    expect(openHandles()).toContainEqual(expect.objectContaining({ value: raw, kind: 'event' }));
    event.close();
    expect(event.closed).toBe(true);
    expect(openHandles().some((h) => h.value === raw)).toBe(false);
    // A second close is a no-op: CloseHandle is not called on a value that may have been reused.
    expect(() => event.close()).not.toThrow();
    expect(() => event.value).toThrow(expect.objectContaining({ code: 'CLOSED' }) as Error);
    expect(() => setEvent(event)).toThrow(expect.objectContaining({ code: 'CLOSED' }) as Error);
    // The raw value really was closed by the first close().
    expect(kernel32().SetEvent(raw)).toBe(0);
    expect(kernel32().GetLastError()).toBe(6); // ERROR_INVALID_HANDLE
  });

  it('a handle garbage collected without close() is closed by the finalizer and reported as a leak', async () => {
    const leaksBefore = leakedHandles().length;
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => {
      if (w.code === 'BUSWAY_HANDLE_LEAK') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    let raw = 0;
    (() => {
      const leaked = createEvent({ name: uniqueName('leak') });
      raw = leaked.value;
    })();
    for (let i = 0; i < 50 && leakedHandles().length === leaksBefore; i += 1) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    process.off('warning', onWarning);
    expect(leakedHandles().slice(leaksBefore)).toEqual([expect.objectContaining({ value: raw, kind: 'event' })]);
    expect(openHandles().some((h) => h.value === raw)).toBe(false);
    expect(kernel32().SetEvent(raw)).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(warnings.join('\n')).toContain('garbage collected without close()');
  });

  it('release() gives the raw value away without closing it; the wrapper is then closed and unlisted', () => {
    const event = createEvent({ name: uniqueName('release') });
    const raw = event.release();
    try {
      expect(event.closed).toBe(true);
      expect(openHandles().some((h) => h.value === raw)).toBe(false);
      expect(() => event.close()).not.toThrow(); // does not close what now belongs to someone else
      expect(() => event.release()).toThrow(expect.objectContaining({ code: 'CLOSED' }) as Error);
      // Still a live handle: the new owner can use it.
      expect(kernel32().SetEvent(raw)).not.toBe(0);
    } finally {
      kernel32().CloseHandle(raw);
    }
  });

  it('wraps any raw handle value it is given', () => {
    const raw = kernel32().CreateEventW(null, 1, 0, null);
    expect(raw).not.toBe(0);
    const handle = new Win32Handle(raw, 'event');
    expect(handle.value).toBe(raw);
    handle.close();
  });
});

afterAll(() => {
  expect(openHandles()).toEqual([]);
});
