import { afterAll, describe, expect, it } from 'vitest';
import {
  Win32Error,
  createEvent,
  createFileMapping,
  createSemaphore,
  kernelObjectName,
  mapView,
  openEvent,
  openFileMapping,
  openHandles,
  readDacl,
  releaseSemaphore,
  setEvent,
  waitForMultipleObjects,
  waitForSingleObject,
  waitForSingleObjectAsync,
} from '../src/index.js';
import { runPeer, uniqueName } from './helpers.js';

const SIZE = 64 * 1024;

describe('file mappings', () => {
  it('creates, opens and maps a mapping: a write through one view is seen through the other', () => {
    const name = uniqueName('map');
    const created = createFileMapping(name, SIZE);
    expect(created.existed).toBe(false);
    const opened = openFileMapping(name);
    const a = mapView(created.handle, SIZE);
    const b = mapView(opened, SIZE);
    try {
      const viewA = new Uint8Array(a.buffer);
      const viewB = new Uint8Array(b.buffer);
      expect(viewB[100]).toBe(0);
      viewA[100] = 42;
      viewA[SIZE - 1] = 7;
      expect(viewB[100]).toBe(42);
      expect(viewB[SIZE - 1]).toBe(7);
      new DataView(b.buffer).setUint32(0, 0xdeadbeef, true);
      expect(new DataView(a.buffer).getUint32(0, true)).toBe(0xdeadbeef);
      // The default DACL is on the mapping too.
      expect(readDacl(created.handle)).toMatch(/^D:P\(A;;[A-Z0-9x]+;;;SY\)\(A;;[A-Z0-9x]+;;;S-1-5-[-0-9]+\)$/);

      const again = createFileMapping(name, SIZE);
      expect(again.existed).toBe(true);
      again.handle.close();
    } finally {
      a.unmap();
      b.unmap();
      expect(a.unmapped).toBe(true);
      opened.close();
      created.handle.close();
    }
  });

  it('shares a mapping with another process: the child reads what we wrote and writes back', async () => {
    const name = uniqueName('map-xp');
    const { handle } = createFileMapping(name, SIZE);
    const view = mapView(handle, SIZE);
    try {
      const bytes = new Uint8Array(view.buffer);
      const message = new TextEncoder().encode('hello from the parent');
      bytes.set(message, 0);
      bytes[message.length] = 0;
      expect(await runPeer('mapping-echo', kernelObjectName(name), String(SIZE))).toBe(0);
      const end = bytes.indexOf(0, 1024);
      const reply = new TextDecoder().decode(bytes.subarray(1024, end));
      expect(reply).toMatch(/^HELLO FROM THE PARENT \(pid \d+\)$/);
      expect(reply).not.toContain(`(pid ${process.pid})`);
    } finally {
      view.unmap();
      handle.close();
    }
  });

  it('opening a mapping nobody created raises ERROR_FILE_NOT_FOUND', () => {
    expect(() => openFileMapping(uniqueName('nomap'))).toThrow(
      expect.objectContaining({ symbol: 'ERROR_FILE_NOT_FOUND' }) as Error,
    );
  });
});

describe('events and semaphores', () => {
  it('signals and waits on named events between two processes, both directions', async () => {
    const ping = uniqueName('ping');
    const pong = uniqueName('pong');
    const hPing = createEvent({ name: ping, manualReset: false });
    const hPong = createEvent({ name: pong, manualReset: false });
    try {
      expect(waitForSingleObject(hPing, 0)).toBe('timeout');
      const child = runPeer('event-ping-pong', kernelObjectName(ping), kernelObjectName(pong));
      // The child sets ping; wait for it off the main thread.
      expect(await waitForSingleObjectAsync(hPing, 20_000)).toBe('signaled');
      // Auto-reset: released one waiter, so it is non-signaled again.
      expect(waitForSingleObject(hPing, 0)).toBe('timeout');
      setEvent(hPong);
      expect(await child).toBe(0);
    } finally {
      hPing.close();
      hPong.close();
    }
  });

  it('opens a named event by name and sees its state; a missing one raises ERROR_FILE_NOT_FOUND', () => {
    const name = uniqueName('evt');
    const event = createEvent({ name });
    const same = openEvent(name);
    try {
      expect(waitForMultipleObjects([event, same], { timeoutMs: 0 })).toBe('timeout');
      setEvent(same);
      expect(waitForSingleObject(event, 0)).toBe('signaled');
      expect(waitForMultipleObjects([event, same], { all: true, timeoutMs: 0 })).toBe(0);
      let caught: unknown;
      try {
        openEvent(uniqueName('noevt'));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Win32Error);
      expect((caught as Win32Error).symbol).toBe('ERROR_FILE_NOT_FOUND');
    } finally {
      same.close();
      event.close();
    }
  });

  it('counts a semaphore up and down and refuses to pass its maximum', () => {
    const semaphore = createSemaphore({ name: uniqueName('sem'), initialCount: 0, maximumCount: 2 });
    try {
      expect(waitForSingleObject(semaphore, 0)).toBe('timeout');
      expect(releaseSemaphore(semaphore)).toBe(0);
      expect(releaseSemaphore(semaphore)).toBe(1);
      expect(() => releaseSemaphore(semaphore)).toThrow(
        expect.objectContaining({ symbol: 'ERROR_TOO_MANY_POSTS' }) as Error,
      );
      expect(waitForSingleObject(semaphore, 0)).toBe('signaled');
      expect(waitForSingleObject(semaphore, 0)).toBe('signaled');
      expect(waitForSingleObject(semaphore, 0)).toBe('timeout');
    } finally {
      semaphore.close();
    }
  });
});

afterAll(() => {
  expect(openHandles()).toEqual([]);
});
