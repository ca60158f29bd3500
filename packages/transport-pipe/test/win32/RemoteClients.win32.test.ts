/**
 * `acceptRemoteClients`: which pipe mode every instance of a hub (and of a NamedPipeServer) is
 * created with. `createNamedPipe` is wrapped to record its options and then creates the real pipe,
 * so the transports below run over live pipes; the flag each instance got is then computed by
 * `namedPipeModes`, the function `createNamedPipe` itself uses.
 *
 * Why not a remote client: this is one machine, under Wine. A remote client needs a second
 * Windows machine reaching this one over SMB, and Wine has no SMB named pipes; nor does Wine
 * enforce the flag (its CreateNamedPipeW drops PIPE_REJECT_REMOTE_CLIENTS), and neither Windows
 * nor Wine reports it back from a live pipe (GetNamedPipeInfo gives only the end and the type).
 */
import type { Transport } from '@busway/core';
import { namedPipeModes, PipeMode, type NamedPipeOptions } from '@busway/win32';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as Win32 from '@busway/win32';
import { createTransport } from '../../src/createTransport.js';
import { NamedPipeClient } from '../../src/win32/NamedPipeClient.js';
import { NamedPipeServer } from '../../src/win32/NamedPipeServer.js';
import { uniqueName, until } from './pipeTestHarness.js';

const created = vi.hoisted(() => [] as Array<{ path: string; options: NamedPipeOptions }>);

vi.mock('@busway/win32', async (importOriginal) => {
  const actual = await importOriginal<typeof Win32>();
  return {
    ...actual,
    createNamedPipe: (name: string, options: NamedPipeOptions = {}) => {
      created.push({ path: actual.pipePath(name), options });
      return actual.createNamedPipe(name, options);
    },
  };
});

/** Whether each instance created for `path` so far rejects remote clients, in creation order. */
function rejectsRemote(path: string): boolean[] {
  return created
    .filter((c) => c.path === path)
    .map((c) => (namedPipeModes(c.options).pipeMode & PipeMode.PIPE_REJECT_REMOTE_CLIENTS) !== 0);
}

describe('remote clients of a pipe:// hub', () => {
  const transports: Transport[] = [];
  afterEach(async () => {
    for (const t of transports.splice(0)) await t.close();
  });

  /** A hub and one member, so the hub has created its first instance and the one after it. */
  async function hubAndMember(name: string, options: Record<string, unknown>): Promise<string> {
    for (const memberId of [1, 2]) {
      const t = await createTransport(new URL(`pipe://${name}`), { memberId, maxFrameSize: 1 << 20, options });
      transports.push(t);
      await t.open();
    }
    const path = `\\\\.\\pipe\\busway\\${name}`;
    await until(() => rejectsRemote(path).length >= 2);
    return path;
  }

  it('by default every instance is created with PIPE_REJECT_REMOTE_CLIENTS', async () => {
    const path = await hubAndMember(uniqueName('remote'), {});
    expect(rejectsRemote(path).every(Boolean)).toBe(true);
    // The first instance still claims the name for itself.
    expect(created.find((c) => c.path === path)?.options.firstInstance).toBe(true);
  });

  it('acceptRemoteClients: true creates every instance without it', async () => {
    const path = await hubAndMember(uniqueName('remote'), { acceptRemoteClients: true });
    const flags = rejectsRemote(path);
    expect(flags.length).toBeGreaterThanOrEqual(2);
    expect(flags.some(Boolean)).toBe(false);
    expect(created.find((c) => c.path === path)?.options.firstInstance).toBe(true);
  });

  it('only true opens it: a truthy non-boolean (say, from an environment string) still rejects', async () => {
    const path = await hubAndMember(uniqueName('remote'), { acceptRemoteClients: 'false' });
    expect(rejectsRemote(path).every(Boolean)).toBe(true);
  });

  it('allowRemote (joining remote hubs) does not open the local hub to remote clients', async () => {
    const path = await hubAndMember(uniqueName('remote'), { allowRemote: true });
    expect(rejectsRemote(path).every(Boolean)).toBe(true);
  });
});

describe('remote clients of a standalone NamedPipeServer', () => {
  it.each([
    [{}, true],
    [{ acceptRemoteClients: false }, true],
    [{ acceptRemoteClients: true }, false],
  ])('options %j: instances reject remote clients = %s', async (options, rejected) => {
    const name = `\\\\.\\pipe\\${uniqueName('remote')}`;
    const server = NamedPipeServer.listen(name, (c) => c.start({ onFrame: () => {}, onClose: () => {} }), options);
    try {
      const client = await NamedPipeClient.connect(name);
      client.close();
      await until(() => rejectsRemote(name).length >= 2);
      expect(rejectsRemote(name)).toEqual(rejectsRemote(name).map(() => rejected));
    } finally {
      await server.close();
    }
  });
});
