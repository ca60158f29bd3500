/**
 * Handing busway-made pipes to libuv: `waitForPipeClient` (a client wait that leaves the handle
 * free of any completion port) and `openPipeSocket` (the handle given to a `net.Socket`).
 */
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  canOpenPipeSockets,
  CompletionPort,
  createNamedPipe,
  HandleWaiter,
  openHandles,
  openNamedPipe,
  openPipeSocket,
  waitForPipeClient,
  Win32Error,
  type Win32Handle,
} from '../src/index.js';
import { uniqueName } from './helpers.js';

const waiter = new HandleWaiter();
const port = new CompletionPort();
afterAll(async () => {
  await waiter.close();
  await port.close();
});

/** A byte-mode pipe with its client connected, both ends still busway handles. */
async function connectedPipe(name: string): Promise<{ server: Win32Handle; client: Win32Handle }> {
  const server = createNamedPipe(name, { messageMode: false });
  const connected = waitForPipeClient(server, waiter).connected;
  const client = openNamedPipe(name, { messageMode: false });
  await connected;
  return { server, client };
}

/** The next chunk a socket reads. */
const nextData = (socket: Socket): Promise<Buffer> => new Promise((resolve) => socket.once('data', resolve));

describe('waitForPipeClient', () => {
  it('resolves when a client opens the pipe, and leaves nothing open behind it', async () => {
    const name = uniqueName('wait-client');
    const server = createNamedPipe(name, { messageMode: false });
    const before = openHandles().length;
    const wait = waitForPipeClient(server, waiter);
    let connected = false;
    void wait.connected.then(() => (connected = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(connected).toBe(false);
    const client = openNamedPipe(name, { messageMode: false });
    await wait.connected;
    // The OVERLAPPED and its event are gone: only the two pipe ends remain open.
    expect(openHandles().length).toBe(before + 1);
    client.close();
    server.close();
  });

  it('resolves at once when the client connected before the wait began', async () => {
    const name = uniqueName('wait-early');
    const server = createNamedPipe(name, { messageMode: false });
    const client = openNamedPipe(name, { messageMode: false });
    await waitForPipeClient(server, waiter).connected;
    client.close();
    server.close();
  });

  it('cancel() ends the wait with ERROR_OPERATION_ABORTED; the instance can then be closed', async () => {
    const name = uniqueName('wait-cancel');
    const server = createNamedPipe(name, { messageMode: false });
    const wait = waitForPipeClient(server, waiter);
    wait.cancel();
    const error = await wait.connected.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Win32Error);
    expect((error as Win32Error).symbol).toBe('ERROR_OPERATION_ABORTED');
    wait.cancel(); // settled: harmless
    server.close();
  });
});

describe('openPipeSocket', () => {
  it('this node.exe exports uv_open_osfhandle', () => {
    // The official Windows builds export all of libuv for addons; the hub relies on it by default.
    expect(canOpenPipeSockets()).toBe(true);
  });

  it('carries bytes both ways between a server instance and a client end, each a net.Socket', async () => {
    const name = uniqueName('socket');
    const { server: serverHandle, client: clientHandle } = await connectedPipe(name);
    const server = openPipeSocket(serverHandle);
    const client = openPipeSocket(clientHandle);
    try {
      // Ownership moved to libuv: the wrappers are closed and no longer counted as open.
      expect(serverHandle.closed).toBe(true);
      expect(clientHandle.closed).toBe(true);
      expect(openHandles().some((h) => h.name?.includes(name))).toBe(false);
      const up = nextData(server);
      client.write('ping');
      expect((await up).toString()).toBe('ping');
      const big = Buffer.alloc(1 << 20, 7);
      let got = 0;
      const down = new Promise<void>((resolve) =>
        client.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got === big.length) resolve();
        }),
      );
      server.write(big);
      await down;
    } finally {
      client.destroy();
      server.destroy();
    }
  });

  it('with onread, reads go into the one buffer given, not to data; pause() stops them, end still comes', async () => {
    const { server: serverHandle, client: clientHandle } = await connectedPipe(uniqueName('socket-onread'));
    const buffer = new Uint8Array(4096);
    let received = Buffer.alloc(0);
    let reads = 0;
    const server = openPipeSocket(serverHandle);
    const client = openPipeSocket(clientHandle, {
      buffer,
      callback: (nread, into) => {
        expect(into).toBe(buffer);
        reads += 1;
        received = Buffer.concat([received, Buffer.from(buffer.subarray(0, nread))]);
        return true;
      },
    });
    try {
      let data = 0;
      client.on('data', () => (data += 1));
      const big = Buffer.alloc(100_000).map((_, i) => i & 0xff);
      server.write(big);
      const deadline = Date.now() + 5000;
      while (received.length < big.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(received.equals(big)).toBe(true);
      expect(reads).toBeGreaterThan(1); // 4 KiB at a time, into the same buffer
      expect(data).toBe(0);
      client.pause();
      const before = received.length;
      server.write('while paused');
      await new Promise((r) => setTimeout(r, 100));
      expect(received.length).toBe(before);
      const ended = new Promise((r) => client.once('end', r));
      client.resume();
      server.end();
      await ended;
      expect(received.subarray(before).toString()).toBe('while paused');
    } finally {
      client.destroy();
      server.destroy();
    }
  });

  it('destroying the socket closes the pipe: the peer sees it end', async () => {
    const { server: serverHandle, client } = await connectedPipe(uniqueName('socket-end'));
    const server = openPipeSocket(serverHandle);
    server.destroy();
    // The client end, read through a busway completion port, learns the server end is gone.
    const error = await port.read(client, 100).catch((e: unknown) => e);
    expect(error).toMatchObject({ symbol: 'ERROR_BROKEN_PIPE' });
    client.close();
  });

  it('refuses a handle that is already closed, before anything is handed over', () => {
    const handle = createNamedPipe(uniqueName('socket-closed'), { messageMode: false });
    handle.close();
    expect(() => openPipeSocket(handle)).toThrow(expect.objectContaining({ code: 'CLOSED' }) as Error);
  });
});
