/**
 * How the pipe links close while a write is still in the pipe: an orderly close lets it finish
 * (bounded by `stallTimeout`), a close with an error does not wait. Each link writes more than
 * the pipe's 64 KiB buffer to a peer that has not read yet, so its `WriteFile` stays pending.
 */
import { StreamFrameLink, type FrameLink } from '@busway/core/internal';
import { openPipeSocket, type Win32Handle } from '@busway/win32';
import { describe, expect, it } from 'vitest';
import { NamedPipeClient } from '../../src/win32/NamedPipeClient.js';
import { NamedPipeConnection } from '../../src/win32/NamedPipeConnection.js';
import { NamedPipeServer } from '../../src/win32/NamedPipeServer.js';
import { NamedPipeStreamLink } from '../../src/win32/NamedPipeStreamLink.js';
import { sharedCompletionPort } from '../../src/win32/sharedCompletionPort.js';
import { cleanupAfterEach, uniqueName, until } from './pipeTestHarness.js';

type PipeLink = FrameLink & { readonly handle: Win32Handle; readonly queuedBytes: number };

const BIG = 1 << 20;

/** Each kind of link, server side, with a raw client end that reads only when told to. */
const kinds = [
  {
    kind: 'NamedPipeConnection (message mode)',
    messageMode: true,
    link: (handle: Win32Handle, stallTimeout: number): PipeLink =>
      new NamedPipeConnection(handle, sharedCompletionPort(), { stallTimeout }),
  },
  {
    kind: 'NamedPipeStreamLink (byte mode)',
    messageMode: false,
    link: (handle: Win32Handle, stallTimeout: number): PipeLink =>
      new NamedPipeStreamLink(handle, sharedCompletionPort(), { stallTimeout }),
  },
];

describe.each(kinds)('closing a $kind with a write in flight', ({ messageMode, link: newLink }) => {
  const cleanup = cleanupAfterEach();

  /** A link on the server end, started, with a write of BIG bytes the client has not read. */
  async function linkWithPendingWrite(stallTimeout: number): Promise<{ link: PipeLink; client: Win32Handle }> {
    const name = `\\\\.\\pipe\\${uniqueName('close')}`;
    let link: PipeLink | undefined;
    const server = NamedPipeServer.listenHandles(name, messageMode, (handle) => {
      link = newLink(handle, stallTimeout);
      link.start({ onFrame: () => {}, onClose: () => {} });
    });
    const client = await NamedPipeClient.open(name, messageMode);
    cleanup.push(
      () => server.close(),
      () => link?.close(),
      () => client.closed || client.close(),
    );
    await until(() => link !== undefined);
    const started = link as PipeLink;
    started.send(new Uint8Array(BIG));
    // Still pending a moment later: the pipe holds 64 KiB and nobody reads.
    await new Promise((r) => setTimeout(r, 100));
    expect(started.queuedBytes).toBeGreaterThan(0);
    return { link: started, client };
  }

  it('an orderly close waits for the write, and closes the handle once the peer has read it', async () => {
    const { link, client } = await linkWithPendingWrite(10_000);
    link.close();
    expect(link.handle.closed).toBe(false);
    const port = sharedCompletionPort();
    let read = 0;
    while (read < BIG) read += (await port.read(client, 64 * 1024)).bytes.length;
    expect(read).toBeGreaterThanOrEqual(BIG);
    await until(() => link.handle.closed, 2000);
  });

  it('an orderly close waits no longer than stallTimeout for a peer that does not read', async () => {
    const { link } = await linkWithPendingWrite(400);
    const started = Date.now();
    link.close();
    expect(link.handle.closed).toBe(false);
    await until(() => link.handle.closed, 3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('a close with an error closes the handle at once, cancelling the write', async () => {
    const { link } = await linkWithPendingWrite(10_000);
    link.close(new Error('dropped'));
    expect(link.handle.closed).toBe(true);
  });
});

/**
 * The default hub link on Windows: core's StreamFrameLink over a pipe handed to libuv. Its handle
 * belongs to libuv, so what is observed is the raw client end: what it can read, and when the
 * pipe breaks under it.
 */
describe('closing a StreamFrameLink over a libuv pipe (pipeIo: libuv) with a write in flight', () => {
  const cleanup = cleanupAfterEach();
  async function linkWithPendingWrite(): Promise<{
    link: StreamFrameLink;
    client: Win32Handle;
    closed: Promise<Error | undefined>;
  }> {
    const name = `\\\\.\\pipe\\${uniqueName('close-uv')}`;
    let link: StreamFrameLink | undefined;
    let reportClose: (error: Error | undefined) => void = () => {};
    const closed = new Promise<Error | undefined>((resolve) => (reportClose = resolve));
    const server = NamedPipeServer.listenHandles(
      name,
      false,
      (handle) => {
        link = new StreamFrameLink(openPipeSocket(handle));
        link.start({ onFrame: () => {}, onClose: reportClose });
      },
      {},
      true,
    );
    const client = await NamedPipeClient.open(name, false);
    cleanup.push(
      () => server.close(),
      () => link?.close(),
      () => client.closed || client.close(),
    );
    await until(() => link !== undefined);
    const started = link as StreamFrameLink;
    started.send(new Uint8Array(BIG));
    // Still queued a moment later: the pipe holds 64 KiB and nobody reads.
    await new Promise((r) => setTimeout(r, 100));
    expect(started.queuedBytes).toBeGreaterThan(0);
    return { link: started, client, closed };
  }

  /** Read the client end until the pipe breaks; the bytes read. */
  async function readToEnd(client: Win32Handle): Promise<number> {
    const port = sharedCompletionPort();
    let read = 0;
    for (;;) {
      try {
        read += (await port.read(client, 64 * 1024)).bytes.length;
      } catch (err) {
        expect(err).toMatchObject({ symbol: 'ERROR_BROKEN_PIPE' });
        return read;
      }
    }
  }

  it('an orderly close lets the whole frame leave before the pipe ends', async () => {
    const { link, client, closed } = await linkWithPendingWrite();
    link.close();
    expect(await readToEnd(client)).toBe(4 + BIG);
    expect(await closed).toBeUndefined();
  });

  it('an orderly close to a peer that does not read gives up after its 2 s grace', async () => {
    const { link, closed } = await linkWithPendingWrite();
    const started = Date.now();
    link.close();
    await closed;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(4000);
  });

  it('a close with an error does not wait: the peer finds the pipe broken before the frame is through', async () => {
    const { link, client, closed } = await linkWithPendingWrite();
    link.close(new Error('dropped'));
    expect((await closed)?.message).toBe('dropped');
    expect(await readToEnd(client)).toBeLessThan(4 + BIG);
  });
});
