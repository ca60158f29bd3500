import { spawn, type ChildProcess } from 'node:child_process';
import { link, lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, FrameKind, type InboundFrame, type Transport } from '@busway/core';
import { encodeEnvelope, peekRoute } from '@busway/core/internal';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTransport } from '../src/createTransport.js';
import { parsePipeUrl } from '../src/PipeUrl.js';

const subscribe = (origin: number, pattern: string): Uint8Array =>
  encodeEnvelope({ kind: FrameKind.Subscribe, origin, sequence: 0, topic: pattern });
const publish = (origin: number, sequence: number, topic: string): Uint8Array =>
  encodeEnvelope({ kind: FrameKind.Publish, origin, sequence, topic, payload: new Uint8Array([sequence]) });

async function until(check: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('parsePipeUrl', () => {
  it('reads local and remote names and rejects the rest', () => {
    expect(parsePipeUrl(new URL('pipe://orders'))).toEqual({ name: 'orders', server: undefined });
    expect(parsePipeUrl(new URL('pipe://./orders'))).toEqual({ name: 'orders', server: undefined });
    expect(parsePipeUrl(new URL('pipe://build01/orders'))).toEqual({ name: 'orders', server: 'build01' });
    expect(() => parsePipeUrl(new URL('pipe://a/b/c'))).toThrow(ConfigurationError);
    expect(() => parsePipeUrl(new URL('pipe://orders?x=1'))).toThrow(ConfigurationError);
    expect(() => parsePipeUrl(new URL('pipe://orders:80'))).toThrow(ConfigurationError);
    expect(() => parsePipeUrl(new URL('tcp://orders'))).toThrow(ConfigurationError);
  });
});

describe.runIf(process.platform !== 'win32')('createTransport over Unix sockets', () => {
  let directory: string;
  let transports: Transport[];
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'bw-tr-'));
    transports = [];
  });
  afterEach(async () => {
    for (const t of transports) await t.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function member(
    name: string,
    memberId: number,
  ): Promise<{ t: Transport; got: InboundFrame[]; states: string[] }> {
    const t = await createTransport(new URL(`pipe://${name}`), {
      memberId,
      maxFrameSize: 1 << 20,
      options: { directory: join(directory, 'run'), takeoverTimeout: 400 },
    });
    transports.push(t);
    const got: InboundFrame[] = [];
    const states: string[] = [];
    t.frames$.subscribe((f) => got.push({ bytes: f.bytes.slice(), peer: f.peer }));
    t.state$.subscribe((state) => states.push(state));
    await t.open();
    return { t, got, states };
  }

  it('refuses a remote pipe on POSIX', () => {
    expect(() =>
      createTransport(new URL('pipe://host/orders'), { memberId: 1, maxFrameSize: 1024, options: {} }),
    ).toThrow(ConfigurationError);
  });

  it('three members: every frame reaches the interested others, not the sender', async () => {
    const a = await member('trio', 1);
    const b = await member('trio', 2);
    const c = await member('trio', 3);
    for (const [m, id] of [
      [a, 1],
      [b, 2],
      [c, 3],
    ] as const)
      m.t.send(subscribe(id, 'news.>'));
    await new Promise((r) => setTimeout(r, 50));
    b.t.send(publish(2, 1, 'news.b'));
    c.t.send(publish(3, 1, 'news.c'));
    a.t.send(publish(1, 1, 'news.a'));
    const topics = (m: { got: InboundFrame[] }): string[] =>
      m.got
        .filter((f) => peekRoute(f.bytes).kind === FrameKind.Publish)
        .map((f) => peekRoute(f.bytes).topic)
        .sort();
    await until(() => topics(a).length === 2 && topics(b).length === 2 && topics(c).length === 2);
    expect(topics(a)).toEqual(['news.b', 'news.c']);
    expect(topics(b)).toEqual(['news.a', 'news.c']);
    expect(topics(c)).toEqual(['news.a', 'news.b']);
  });

  it("a member sees a relayed message's sender without the hub's pid; the hub's own with it", async () => {
    // Three processes: the hub is this one (a bare transport, member id 7); subscriber and
    // publisher are children running the built code.
    const run = join(directory, 'run');
    const hub = await member('ident', 7);
    expect(hub.t.isHub).toBe(true);
    const script = fileURLToPath(new URL('./fixtures/ident-member.mjs', import.meta.url));
    const children: ChildProcess[] = [];
    const lines: string[] = [];
    try {
      const sub = spawn(process.execPath, [script, 'sub', 'ident', run], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(sub);
      sub.stdout.setEncoding('utf8').on('data', (d: string) => lines.push(...d.trim().split('\n')));
      await until(() => lines.includes('ready'), 20_000);
      const pub = spawn(process.execPath, [script, 'pub', 'ident', run], { stdio: 'ignore' });
      children.push(pub);
      const received = (topic: string) =>
        lines
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { topic: string; pid: number | null; data: unknown })
          .filter((m) => m.topic === topic);
      await until(() => received('id.member').length > 0, 20_000);
      // Relayed by the hub: the publisher's pid, or none; never the hub's (the old behaviour).
      for (const m of received('id.member')) {
        expect(m.data).toBe(pub.pid);
        expect(m.pid === null || m.pid === pub.pid).toBe(true);
        expect(m.pid).not.toBe(process.pid);
      }
      // The hub's own message: its pid, first-hand from the OS.
      let sequence = 0;
      const publishFromHub = (): void => hub.t.send(publish(7, ++sequence, 'id.hub'));
      const timer = setInterval(publishFromHub, 100);
      try {
        await until(() => received('id.hub').length > 0, 10_000);
      } finally {
        clearInterval(timer);
      }
      expect(received('id.hub')[0]?.pid).toBe(process.pid);
    } finally {
      for (const c of children) c.kill();
    }
  }, 60_000);

  it('a hub process killed with SIGKILL leaves a stale socket; the survivors take over and carry on', async () => {
    const run = join(directory, 'run');
    const hubScript = fileURLToPath(new URL('./fixtures/pipe-hub-process.ts', import.meta.url));
    // The hub lives in another process so that it can die without closing (and unlinking) anything.
    // vite-node (vitest's runner) runs the TypeScript sources with the workspace's resolve conditions.
    const viteNode = join(dirname(createRequire(import.meta.url).resolve('vite-node/package.json')), 'vite-node.mjs');
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const child = spawn(
      process.execPath,
      [viteNode, '--root', root, '--config', join(root, 'vitest.config.ts'), hubScript, '--', run, 'killed'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`hub process exited early (${code})`)));
    });
    const a = await member('killed', 11);
    const b = await member('killed', 12);
    const socketPath = join(run, 'killed.sock');
    // A hard link keeps the dead hub's inode allocated, so the new hub's socket cannot reuse its number.
    await link(socketPath, join(run, 'dead-hub.sock'));
    const deadHubSocket = await lstat(socketPath);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // SIGKILL runs no cleanup, so the dead hub's socket file stays behind. We do not lstat it here:
    // the survivors notice the hang-up at once and may already be between unlinking it and binding
    // their own (an earlier version of this test failed on exactly that ENOENT).
    // One of the two becomes the hub (replacing the stale file), the other reconnects to it.
    // Interest is announced once both are back, as the bus does whenever `state$` returns to
    // 'open': a frame sent before a member has noticed the hang-up goes down the dead link and is
    // lost (the exit event can reach us before the survivors see their sockets close), which is
    // what made this test fail on a loaded CI machine twice.
    const reconnected = (m: { states: string[] }): boolean =>
      m.states.includes('reconnecting') && m.states.at(-1) === 'open';
    await until(() => reconnected(a) && reconnected(b), 30_000);
    b.t.send(subscribe(12, 'after'));
    // The subscribe and the publish travel on different links, so the publish may reach the hub
    // first; publish again until one arrives, which shows the survivors carry on.
    let sequence = 0;
    const publishAfter = (): void => a.t.send(publish(11, ++sequence, 'after'));
    publishAfter();
    const republish = setInterval(publishAfter, 100);
    try {
      await until(() => b.got.some((f) => peekRoute(f.bytes).topic === 'after'), 10_000);
    } finally {
      clearInterval(republish);
    }
    // The file now in place is the new hub's socket, not the dead one's.
    const newHubSocket = await lstat(socketPath);
    expect(newHubSocket.isSocket()).toBe(true);
    expect(newHubSocket.ino).not.toBe(deadHubSocket.ino);
  }, 90_000); // a second Node process compiling TypeScript on a shared two-core machine
});
