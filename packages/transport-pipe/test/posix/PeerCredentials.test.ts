import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPeerCredentials } from '../../src/posix/PeerCredentials.js';

describe.runIf(process.platform === 'linux')('readPeerCredentials (SO_PEERCRED)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'busway-cred-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the pid and uid of a peer in another process', async () => {
    const path = join(dir, 's.sock');
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer((socket) => {
        server.close();
        resolve(socket);
      });
      server.listen(path);
    });
    // A child process, so the pid we read cannot be our own by accident.
    const child = spawn(
      process.execPath,
      ['-e', `const s=require('net').connect(${JSON.stringify(path)});s.on('data',()=>s.end())`],
      { stdio: 'ignore' },
    );
    const socket = await accepted;
    const peer = readPeerCredentials(socket);
    socket.end('bye');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(peer).toEqual({ pid: child.pid, uid: process.getuid?.() });
    expect(peer?.pid).not.toBe(process.pid);
  });

  it('returns undefined for a socket without a descriptor', () => {
    expect(readPeerCredentials(new Socket())).toBeUndefined();
  });
});
