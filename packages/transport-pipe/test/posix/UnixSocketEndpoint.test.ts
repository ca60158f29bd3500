import { spawnSync } from 'node:child_process';
import { lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, FrameError, FrameKind, FrameTooLargeError } from '@busway/core';
import { AddressInUseError, encodeEnvelope, type FrameLink, type HubListener } from '@busway/core/internal';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StalledFrameError } from '../../src/errors.js';
import { UnixSocketEndpoint } from '../../src/posix/UnixSocketEndpoint.js';

const frame = (topic: string, payload = new Uint8Array([1, 2, 3])): Uint8Array =>
  encodeEnvelope({ kind: FrameKind.Publish, origin: 7, sequence: 1, topic, payload });

interface Received {
  frames: Uint8Array[];
  closed: Promise<Error | undefined>;
}

function collect(link: FrameLink): Received {
  const frames: Uint8Array[] = [];
  let resolveClosed!: (e: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((resolve) => (resolveClosed = resolve));
  link.start({ onFrame: (f) => frames.push(f.slice()), onClose: (e) => resolveClosed(e) });
  return { frames, closed };
}

async function until(check: () => boolean, timeout = 2000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function rawClient(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

describe.runIf(process.platform !== 'win32')('UnixSocketEndpoint', () => {
  let directory: string;
  let listeners: HubListener[];
  let links: FrameLink[];
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'bw-ep-'));
    listeners = [];
    links = [];
  });
  afterEach(async () => {
    for (const link of links) link.close();
    for (const l of listeners) await l.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function hub(name: string, options = {}): Promise<{ endpoint: UnixSocketEndpoint; accepted: Received[] }> {
    const endpoint = new UnixSocketEndpoint(name, { directory: join(directory, 'run'), ...options });
    const accepted: Received[] = [];
    listeners.push(
      await endpoint.listen((link) => {
        links.push(link);
        accepted.push(collect(link));
      }),
    );
    return { endpoint, accepted };
  }

  it('creates its socket, mode 0600, in a 0700 directory, and carries frames both ways', async () => {
    const { endpoint, accepted } = await hub('orders');
    expect(endpoint.path).toBe(join(directory, 'run', 'orders.sock'));
    expect((await lstat(join(directory, 'run'))).mode & 0o777).toBe(0o700);
    expect((await lstat(endpoint.path as string)).mode & 0o777).toBe(0o600);
    const client = await new UnixSocketEndpoint('orders', { directory: join(directory, 'run') }).connect();
    links.push(client);
    const fromHub = collect(client);
    client.send(frame('a'));
    client.send(frame('b'));
    await until(() => accepted[0]?.frames.length === 2);
    links[0]?.send(frame('c', new Uint8Array(200_000)));
    await until(() => fromHub.frames.length === 1);
    expect(fromHub.frames[0]?.length).toBe(frame('c', new Uint8Array(200_000)).length);
    expect(accepted[0]?.frames.map((f) => f.length)).toEqual([frame('a').length, frame('b').length]);
  });

  it.runIf(process.platform === 'linux')('reports the peer pid and uid on both sides (SO_PEERCRED)', async () => {
    await hub('ident');
    const client = await new UnixSocketEndpoint('ident', { directory: join(directory, 'run') }).connect();
    links.push(client);
    await until(() => links.length === 2);
    // Same process at both ends here; the cross-process case is in PeerCredentials.test.ts.
    expect(client.peer).toEqual({ pid: process.pid, uid: process.getuid?.() });
    expect(links[1]?.peer).toEqual({ pid: process.pid, uid: process.getuid?.() });
  });

  it('a second hub on a live name gets AddressInUseError and leaves the socket alone', async () => {
    const { endpoint } = await hub('busy');
    const second = new UnixSocketEndpoint('busy', { directory: join(directory, 'run') });
    await expect(second.listen(() => {})).rejects.toBeInstanceOf(AddressInUseError);
    const client = await new UnixSocketEndpoint('busy', { directory: join(directory, 'run') }).connect();
    links.push(client);
    expect((await lstat(endpoint.path as string)).isSocket()).toBe(true);
  });

  it('replaces the stale socket of a hub that was killed', async () => {
    const run = join(directory, 'run');
    const path = join(run, 'dead.sock');
    await new UnixSocketEndpoint('dead', { directory: run }).resolvePath();
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)},()=>process.kill(process.pid,'SIGKILL'))`,
    ]);
    expect((await lstat(path)).isSocket()).toBe(true);
    const { accepted } = await hub('dead');
    links.push(await new UnixSocketEndpoint('dead', { directory: run }).connect());
    await until(() => accepted.length === 1);
  });

  it('refuses to replace a file that is not its socket', async () => {
    const run = join(directory, 'run');
    await new UnixSocketEndpoint('plain', { directory: run }).resolvePath();
    await writeFile(join(run, 'plain.sock'), 'someone else');
    await expect(new UnixSocketEndpoint('plain', { directory: run }).listen(() => {})).rejects.toBeInstanceOf(
      ConfigurationError,
    );
  });

  it('rejects names that could leave the directory', () => {
    expect(() => new UnixSocketEndpoint('../x')).toThrow(ConfigurationError);
    expect(() => new UnixSocketEndpoint('a/b')).toThrow(ConfigurationError);
  });

  describe('bad input disconnects that client only', () => {
    async function setup(options = {}) {
      const h = await hub('guarded', options);
      const good = await new UnixSocketEndpoint('guarded', { directory: join(directory, 'run') }).connect();
      links.push(good);
      const goodFromHub = collect(good);
      await until(() => h.accepted.length === 1);
      const bad = await rawClient(h.endpoint.path as string);
      await until(() => h.accepted.length === 2);
      const badClosed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
      return { ...h, good, goodFromHub, bad, badClosed };
    }

    async function goodStillWorks(s: Awaited<ReturnType<typeof setup>>): Promise<void> {
      s.good.send(frame('still-here'));
      await until(() => s.accepted[0]?.frames.length === 1);
      links[0]?.send(frame('back'));
      await until(() => s.goodFromHub.frames.length === 1);
    }

    it('garbage behind a plausible length: closed with FrameError (bad magic)', async () => {
      const s = await setup();
      const started = Date.now();
      const junk = Buffer.alloc(4 + 60, 0xaa);
      junk.writeUInt32BE(60);
      s.bad.write(junk);
      expect(await s.accepted[1]?.closed).toBeInstanceOf(FrameError);
      await s.badClosed;
      expect(Date.now() - started).toBeLessThan(1000);
      await goodStillWorks(s);
    });

    it('text where a length should be (an HTTP request): closed as oversized', async () => {
      const s = await setup();
      s.bad.write('GET / HTTP/1.1\r\n\r\n');
      // "GET " read as a big-endian length is 1195725856 bytes: refused before allocating.
      expect(await s.accepted[1]?.closed).toBeInstanceOf(FrameTooLargeError);
      await s.badClosed;
      await goodStillWorks(s);
    });

    it('an oversized length: closed with FrameTooLargeError before the body is sent', async () => {
      const s = await setup({ maxFrameSize: 1024 });
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(0xfff0_0000);
      s.bad.write(prefix);
      const reason = await s.accepted[1]?.closed;
      expect(reason).toBeInstanceOf(FrameTooLargeError);
      expect((reason as FrameTooLargeError).size).toBe(0xfff0_0000);
      await s.badClosed;
      await goodStillWorks(s);
    });

    it('half a frame then silence: closed with StalledFrameError after stallTimeout', async () => {
      const s = await setup({ stallTimeout: 200 });
      const whole = Buffer.concat([Buffer.alloc(4), frame('t', new Uint8Array(1000))]);
      whole.writeUInt32BE(whole.length - 4);
      const started = Date.now();
      s.bad.write(whole.subarray(0, 300));
      const reason = await s.accepted[1]?.closed;
      const elapsed = Date.now() - started;
      expect(reason).toBeInstanceOf(StalledFrameError);
      expect((reason as StalledFrameError).received).toBe(300);
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1500);
      await s.badClosed;
      await goodStillWorks(s);
    });

    it('a frame sent in pieces within stallTimeout is delivered', async () => {
      const s = await setup({ stallTimeout: 1000 });
      const whole = Buffer.concat([Buffer.alloc(4), frame('t', new Uint8Array(1000))]);
      whole.writeUInt32BE(whole.length - 4);
      // Five pieces 50 ms apart: 250 ms in total, well inside the timeout.
      for (let at = 0; at < whole.length; at += Math.ceil(whole.length / 5)) {
        s.bad.write(whole.subarray(at, at + Math.ceil(whole.length / 5)));
        await new Promise((r) => setTimeout(r, 50));
      }
      await until(() => s.accepted[1]?.frames.length === 1);
      s.bad.destroy();
    });

    it('a frame trickled without pause but past stallTimeout is dropped (slowloris)', async () => {
      const s = await setup({ stallTimeout: 300 });
      const whole = Buffer.concat([Buffer.alloc(4), frame('t', new Uint8Array(1000))]);
      whole.writeUInt32BE(whole.length - 4);
      let at = 0;
      // Never silent for more than 20 ms, but the frame would take about a second in all.
      const trickle = setInterval(() => {
        if (!s.bad.destroyed && at < whole.length) s.bad.write(whole.subarray(at, (at += 20)));
      }, 20);
      try {
        expect(await s.accepted[1]?.closed).toBeInstanceOf(StalledFrameError);
      } finally {
        clearInterval(trickle);
      }
      await s.badClosed;
      await goodStillWorks(s);
    });
  });
});
