/**
 * NamedPipeServer when things fail under it: a client wait that cannot begin (libuv mode:
 * `waitForPipeClient` throws at once when the event it creates cannot be made), and a connection
 * handler that throws.
 *
 * The failing wait: `@busway/win32` is mocked (as RemoteClients.win32.test.ts does) so that
 * `waitForPipeClient` throws what `createEvent` throws for an exhausted handle table, before it
 * creates anything, when a fault is armed; otherwise it is the real function. An ESM export cannot
 * be spied on, and mocking `createEvent`'s own module did not reach the copy `waitForPipeClient`
 * imports under the Win32 suite's resolution.
 */
import type * as Win32 from '@busway/win32';
import { openHandles, Win32Error, type Win32Handle } from '@busway/win32';
import { describe, expect, it, vi } from 'vitest';
import { NamedPipeClient } from '../../src/win32/NamedPipeClient.js';
import { NamedPipeServer } from '../../src/win32/NamedPipeServer.js';
import { sharedCompletionPort } from '../../src/win32/sharedCompletionPort.js';
import { cleanupAfterEach, uniqueName, until } from './pipeTestHarness.js';

/** How many of the next client waits fail to begin. */
const waitFaults = vi.hoisted(() => ({ remaining: 0 }));

vi.mock('@busway/win32', async (importOriginal) => {
  const actual = await importOriginal<typeof Win32>();
  return {
    ...actual,
    waitForPipeClient: (...args: Parameters<typeof actual.waitForPipeClient>) => {
      if (waitFaults.remaining > 0) {
        waitFaults.remaining -= 1;
        // ERROR_NO_SYSTEM_RESOURCES from CreateEventW: what an exhausted handle table looks like.
        throw new actual.Win32Error('CreateEventW', 1450, 'made to fail');
      }
      return actual.waitForPipeClient(...args);
    },
  };
});

/** Warnings with `code` emitted from now until the test's cleanup. */
function warningsWith(code: string, cleanup: Array<() => unknown>): string[] {
  const seen: string[] = [];
  const listener = (w: Error & { code?: string }): void => {
    if (w.code === code) seen.push(w.message);
  };
  process.on('warning', listener);
  cleanup.push(() => process.off('warning', listener));
  return seen;
}

/** Handles of pipe instances (server ends) named `path` that busway still holds open. */
const instancesOf = (path: string) => openHandles().filter((h) => h.kind === 'named-pipe' && h.name === path);

describe('NamedPipeServer faults', () => {
  const cleanup = cleanupAfterEach();

  it('listen: a first client wait that cannot begin closes the instance and gives the name back', () => {
    const name = uniqueName('srv-fault');
    const path = `\\\\.\\pipe\\${name}`;
    waitFaults.remaining = 1;
    expect(() => NamedPipeServer.listenHandles(path, false, () => {}, {}, true)).toThrow(Win32Error);
    expect(waitFaults.remaining).toBe(0);
    expect(instancesOf(path)).toEqual([]);
    expect(openHandles().filter((h) => h.kind === 'mutex' && h.name?.endsWith(`busway-pipe-${name}`))).toEqual([]);
    // Neither the instance nor the claim is left: this process can serve the name at once.
    const again = NamedPipeServer.listenHandles(path, false, () => {}, {}, true);
    cleanup.push(() => again.close());
  });

  it('a later client wait that cannot begin: that instance is closed, a warning says so, and close() gives the name back', async () => {
    const path = `\\\\.\\pipe\\${uniqueName('srv-fault')}`;
    const warnings = warningsWith('BUSWAY_PIPE_ACCEPT', cleanup);
    const handed: Win32Handle[] = [];
    const server = NamedPipeServer.listenHandles(path, false, (h) => handed.push(h), {}, true);
    cleanup.push(() => server.close());
    // The first client takes the waiting instance; the wait on the next one is what fails.
    waitFaults.remaining = 1;
    const client = await NamedPipeClient.open(path, false);
    cleanup.push(() => client.close());
    await until(() => handed.length === 1);
    expect(waitFaults.remaining).toBe(0);
    // Only the handed-out instance is left: none that a client could open and hang on.
    expect(instancesOf(path)).toHaveLength(1);
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    expect(warnings.some((w) => w.includes('stopped accepting') && w.includes('made to fail'))).toBe(true);
    handed[0]?.close();
    client.close();
    await server.close();
    // close() released the claim though the server had stopped accepting before it.
    const again = NamedPipeServer.listenHandles(path, false, () => {}, {}, true);
    cleanup.push(() => again.close());
  });

  it.each(['listen', 'listenHandles (libuv)'] as const)(
    '%s: a connection handler that throws drops that client only, with a warning and no unhandled rejection',
    async (api) => {
      const path = `\\\\.\\pipe\\${uniqueName('srv-fault')}`;
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown): void => {
        rejections.push(reason);
      };
      process.on('unhandledRejection', onRejection);
      cleanup.push(() => process.off('unhandledRejection', onRejection));
      const warnings = warningsWith('BUSWAY_PIPE_HANDLER', cleanup);
      // What the throwing handler was given, and what the server handed out after it.
      const dropped: Array<{ readonly closed: boolean }> = [];
      const kept: Array<{ close(): void }> = [];
      const server =
        api === 'listen'
          ? NamedPipeServer.listen(path, (connection) => {
              if (dropped.length === 0) {
                dropped.push(connection);
                connection.start({ onFrame: () => {}, onClose: () => {} }); // I/O begun, then the bug
                throw new Error('handler bug');
              }
              kept.push(connection);
              connection.start({ onFrame: (m) => connection.send(m), onClose: () => {} });
            })
          : NamedPipeServer.listenHandles(
              path,
              false,
              (handle) => {
                if (dropped.length === 0) {
                  dropped.push(handle);
                  throw new Error('handler bug');
                }
                kept.push(handle);
              },
              {},
              true,
            );
      cleanup.push(
        () => server.close(),
        () => kept.forEach((k) => k.close()),
      );
      const port = sharedCompletionPort();
      const first = await NamedPipeClient.open(path, api === 'listen');
      cleanup.push(() => first.close());
      await until(() => dropped.length === 1);
      await until(() => dropped[0]?.closed === true, 2000);
      // The client learns it was dropped: its read fails with a broken pipe.
      const end = await Promise.race([
        port.read(first, 100).catch((e: unknown) => e),
        new Promise((r) => setTimeout(() => r('still connected after 2 s'), 2000)),
      ]);
      expect(end).toMatchObject({ symbol: 'ERROR_BROKEN_PIPE' });
      // The server keeps accepting.
      const second = await NamedPipeClient.open(path, api === 'listen', { connectTimeout: 5000 });
      cleanup.push(() => second.close());
      await until(() => kept.length === 1);
      if (api === 'listen') {
        await port.write(second, Buffer.from('still accepting'));
        const { bytes } = await port.read(second, 100);
        expect(Buffer.from(bytes).toString()).toBe('still accepting');
      }
      await new Promise((r) => setTimeout(r, 50)); // an unhandled rejection is reported after a tick
      expect(rejections).toEqual([]);
      expect(warnings.some((w) => w.includes('handler bug'))).toBe(true);
    },
  );
});
