import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createEvent,
  createNamedPipe,
  getNamedPipeServerProcessId,
  openNamedPipe,
  Win32Error,
  type Win32Handle,
} from '../src/index.js';
import { uniqueName } from './helpers.js';

describe('getNamedPipeServerProcessId', () => {
  const open: Win32Handle[] = [];
  afterEach(() => {
    for (const handle of open.splice(0)) if (!handle.closed) handle.close();
  });

  it('on either end of a pipe served by this process: this process', () => {
    const name = uniqueName('server-pid');
    const server = createNamedPipe(name, { overlapped: false });
    open.push(server);
    const client = openNamedPipe(name, { overlapped: false });
    open.push(client);
    expect(getNamedPipeServerProcessId(client)).toBe(process.pid);
    expect(getNamedPipeServerProcessId(server)).toBe(process.pid);
  });

  it('on a client handle: the process that created the pipe, here another node process', async () => {
    const path = `\\\\.\\pipe\\${uniqueName('server-pid-peer')}`;
    // libuv's pipe server is a plain CreateNamedPipeW in the other process; stdio ignored because
    // under Wine node.exe cannot write to a pipe from Linux (it can to files and Windows pipes).
    const peer = spawn(
      process.execPath,
      ['-e', 'require("net").createServer().listen(process.argv[1]); setTimeout(() => {}, 30000)', path],
      { stdio: 'ignore' },
    );
    try {
      let client: Win32Handle | undefined;
      const deadline = Date.now() + 20_000;
      while (client === undefined) {
        try {
          client = openNamedPipe(path, { messageMode: false, overlapped: false });
        } catch (err) {
          if (!(err instanceof Win32Error) || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      open.push(client);
      expect(peer.pid).toBeDefined();
      expect(peer.pid).not.toBe(process.pid);
      expect(getNamedPipeServerProcessId(client)).toBe(peer.pid);
    } finally {
      peer.kill();
    }
  });

  it('a handle that is not a pipe: Win32Error', () => {
    // An event: the call fails, and the failure is a Win32Error, never a made-up pid.
    const event = createEvent();
    open.push(event);
    expect(() => getNamedPipeServerProcessId(event)).toThrow(Win32Error);
  });
});
