import { lstat, mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeSocket, replaceStaleSocket } from '../../src/posix/StaleSocketReplacer.js';

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** A socket file whose listener is gone, as a crashed hub leaves it. */
async function staleSocket(path: string): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  // A process that binds and is killed before it can close (and unlink) the socket.
  spawnSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)},()=>process.kill(process.pid,'SIGKILL'))`,
  ]);
}

describe.runIf(process.platform !== 'win32')('stale socket detection', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'busway-stale-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tells live, stale, absent and foreign apart', async () => {
    const live = join(dir, 'live.sock');
    const server = await listen(live);
    const stale = join(dir, 'stale.sock');
    await staleSocket(stale);
    expect((await lstat(stale)).isSocket()).toBe(true);
    const plain = join(dir, 'plain.sock');
    await writeFile(plain, 'not a socket');
    expect((await probeSocket(live, 1000)).state).toBe('live');
    expect((await probeSocket(stale, 1000)).state).toBe('stale');
    expect((await probeSocket(join(dir, 'none.sock'), 1000)).state).toBe('absent');
    expect((await probeSocket(plain, 1000)).state).toBe('foreign');
    await new Promise((r) => server.close(r));
  });

  it('removes a stale socket so the name can be bound again', async () => {
    const path = join(dir, 'x.sock');
    await staleSocket(path);
    expect((await probeSocket(path, 1000)).state).toBe('stale');
    expect(await replaceStaleSocket(path, 1000)).toBe(true);
    const server = await listen(path);
    expect((await probeSocket(path, 1000)).state).toBe('live');
    await new Promise((r) => server.close(r));
  });

  it('never removes a socket that went live after the probe: it is put back, still reachable', async () => {
    const path = join(dir, 'race.sock');
    await staleSocket(path);
    expect((await probeSocket(path, 1000)).state).toBe('stale');
    // Another member wins the race between our probe and our replacement: it removes the stale
    // file and binds a live socket at the same path. We then act on our outdated probe.
    await unlink(path);
    const winner = await listen(path);
    expect(await replaceStaleSocket(path, 1000)).toBe(false);
    expect((await probeSocket(path, 1000)).state).toBe('live');
    expect((await readdir(dir)).filter((f) => f.includes('.stale-'))).toEqual([]);
    await new Promise((r) => winner.close(r));
  });
});
