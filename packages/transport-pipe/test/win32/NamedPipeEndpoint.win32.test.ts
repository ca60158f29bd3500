import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ConnectionLostError, FrameError, FrameKind } from '@busway/core';
import { AddressInUseError, encodeEnvelope, type FrameLink, type HubListener } from '@busway/core/internal';
import { canOpenPipeSockets, currentUserSid, sharedHandleWaiter, waitNamedPipe, type Win32Handle } from '@busway/win32';
import { describe, expect, it } from 'vitest';
import { createTransport } from '../../src/createTransport.js';
import { PipeHandshakeError, PipeSquattedError, StalledFrameError } from '../../src/errors.js';
import { PIPE_HELLO, PIPE_WELCOME } from '../../src/win32/HandshakeLink.js';
import { sharedCompletionPort } from '../../src/win32/sharedCompletionPort.js';
import { NamedPipeClient } from '../../src/win32/NamedPipeClient.js';
import { NamedPipeEndpoint } from '../../src/win32/NamedPipeEndpoint.js';
import { NamedPipeServer } from '../../src/win32/NamedPipeServer.js';
import { cleanupAfterEach, fixturesBeforeAll, uniqueName, until } from './pipeTestHarness.js';

const PIPE_IOS = ['libuv', 'completion-port'] as const;

const frame = (topic: string): Uint8Array => encodeEnvelope({ kind: FrameKind.Publish, origin: 5, sequence: 1, topic });
/** A frame behind core's 4-byte big-endian length prefix, as a member writes it into the pipe. */
const prefixed = (f: Uint8Array): Buffer => {
  const out = Buffer.alloc(4 + f.length);
  out.writeUInt32BE(f.length);
  out.set(f, 4);
  return out;
};

/**
 * Whether a pipe of that name exists, asked with WaitNamedPipeW (ERROR_FILE_NOT_FOUND while none
 * does): unlike trying to listen on it, asking cannot take the name should it be free.
 */
const pipeExists = (path: string): boolean => {
  try {
    waitNamedPipe(path, 1);
    return true;
  } catch {
    return false;
  }
};

// Every behaviour holds whichever I/O moves the bytes: libuv (the default) or busway's completion port.
describe.each(PIPE_IOS)('NamedPipeEndpoint, pipeIo: %s', (pipeIo) => {
  const exe = fixturesBeforeAll(['pipe-client', 'pipe-server']);
  const cleanup = cleanupAfterEach();

  async function hub(name: string, options = {}) {
    const endpoint = new NamedPipeEndpoint(name, { pipeIo, ...options });
    const links: Array<{ link: FrameLink; frames: Uint8Array[]; closed: Array<Error | undefined> }> = [];
    const listener: HubListener = await endpoint.listen((link) => {
      const entry = { link, frames: [] as Uint8Array[], closed: [] as Array<Error | undefined> };
      links.push(entry);
      link.start({ onFrame: (f) => entry.frames.push(f.slice()), onClose: (e) => entry.closed.push(e) });
    });
    cleanup.push(() => listener.close());
    return { endpoint, links, listener };
  }

  it('carries frames both ways after the handshake and reports the client pid', async () => {
    const name = uniqueName('ep');
    const h = await hub(name);
    expect(h.endpoint.path).toBe(`\\\\.\\pipe\\busway\\${name}`);
    const member = await new NamedPipeEndpoint(name, { pipeIo }).connect();
    cleanup.push(() => member.close());
    const back: Uint8Array[] = [];
    member.start({ onFrame: (f) => back.push(f.slice()), onClose: () => {} });
    member.send(frame('up'));
    await until(() => h.links[0]?.frames.length === 1);
    expect(h.links[0]?.link.peer?.pid).toBe(process.pid);
    // The member's link names the hub (GetNamedPipeServerProcessId); here the hub is this process.
    expect(member.peer?.pid).toBe(process.pid);
    h.links[0]?.link.send(frame('down'));
    await until(() => back.length === 1);
    expect(back[0]).toEqual(frame('down'));
  });

  it.each(['closed', 'silent'] as const)(
    'a holder that is %s during the handshake is PipeHandshakeError, not blamed as a squatter',
    async (reason) => {
      const name = uniqueName('ep');
      const held: Win32Handle[] = [];
      // Takes the busway name like a hub would, then hangs up at once, or never answers.
      const holder = NamedPipeServer.listenHandles(
        `\\\\.\\pipe\\busway\\${name}`,
        false,
        (handle) => (reason === 'closed' ? handle.close() : held.push(handle)),
        {},
        pipeIo === 'libuv',
      );
      cleanup.push(
        () => holder.close(),
        () => held.forEach((h) => h.close()),
      );
      const started = Date.now();
      const error = await new NamedPipeEndpoint(name, { pipeIo, handshakeTimeout: 300 })
        .connect()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PipeHandshakeError);
      expect(error).not.toBeInstanceOf(PipeSquattedError);
      const failed = error as PipeHandshakeError;
      expect(failed.code).toBe('PIPE_HANDSHAKE_FAILED');
      expect(failed.reason).toBe(reason);
      expect(failed.serverPid).toBe(process.pid);
      if (reason === 'silent') expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    },
  );

  it('a second member cannot also become hub: AddressInUseError', async () => {
    const name = uniqueName('ep');
    await hub(name);
    await expect(new NamedPipeEndpoint(name, { pipeIo }).listen(() => {})).rejects.toBeInstanceOf(AddressInUseError);
  });

  it('the hub pipe grants the current user and SYSTEM only (DACL read back from the live pipe)', async () => {
    const h = await hub(uniqueName('ep'));
    const dacl = h.endpoint.readDacl() ?? '';
    // Read back, not enforced: Wine keeps the DACL but does not run every access check.
    const trustees = (dacl.match(/\([^)]*\)/g) ?? []).map((ace) => ace.slice(ace.lastIndexOf(';') + 1, -1)).sort();
    expect(dacl.startsWith('D:P')).toBe(true);
    expect(trustees).toEqual([currentUserSid(), 'SY'].sort());
  });

  it('a squatter that does not speak busway is reported with its pid, not joined (PipeSquattedError)', async () => {
    const name = uniqueName('ep');
    // A plain C server takes the busway pipe name first: it echoes whatever it is sent.
    const squatter = spawn(exe['pipe-server'] as string, [`\\\\.\\pipe\\busway\\${name}`, '1'], { stdio: 'ignore' });
    cleanup.push(() => squatter.kill());
    const endpoint = new NamedPipeEndpoint(name, { pipeIo, handshakeTimeout: 1000 });
    // The name exists once the squatter is up; listening then must fail, whoever holds it.
    await until(() => pipeExists(endpoint.path), 20_000);
    await expect(endpoint.listen(() => {})).rejects.toBeInstanceOf(AddressInUseError);
    const error = await endpoint.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipeSquattedError);
    const squatted = error as PipeSquattedError;
    expect(squatted.code).toBe('PIPE_SQUATTED');
    // The holder, as GetNamedPipeServerProcessId saw it, is the C program's process: the pid
    // CreateProcessW gave node for the child, not this process.
    expect(squatter.pid).toBeDefined();
    expect(squatter.pid).not.toBe(process.pid);
    expect(squatted.serverPid).toBe(squatter.pid);
    expect(squatted.message).toContain(`held by process ${squatter.pid},`);
  });

  it('a bus member facing a squatter fails to open, the cause naming the squatter and its pid', async () => {
    const name = uniqueName('ep');
    const squatter = spawn(exe['pipe-server'] as string, [`\\\\.\\pipe\\busway\\${name}`, '1'], { stdio: 'ignore' });
    cleanup.push(() => squatter.kill());
    await until(() => pipeExists(`\\\\.\\pipe\\busway\\${name}`), 20_000);
    // One election round (openTimeout 1 ms): the squatter accepts a single client, then exits and
    // frees the name, after which a second round would simply make this member the hub.
    const transport = await createTransport(new URL(`pipe://${name}`), {
      memberId: 7,
      maxFrameSize: 1 << 20,
      options: { openTimeout: 1, handshakeTimeout: 1000, pipeIo },
    });
    cleanup.push(() => transport.close());
    const error = await transport.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionLostError);
    const cause = (error as ConnectionLostError).cause;
    expect(cause).toBeInstanceOf(PipeSquattedError);
    expect((cause as PipeSquattedError).serverPid).toBe(squatter.pid);
  });

  it('a plain message-mode C client cannot join the hub pipe; the hub carries on', async () => {
    const name = uniqueName('ep');
    const h = await hub(name);
    const client = spawn(exe['pipe-client'] as string, [h.endpoint.path, 'hello from C'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => client.once('close', r));
    // The hub pipe is a byte-type pipe (length-prefixed frames), so a client that insists on
    // message read mode is refused by the pipe itself: ERROR_INVALID_PARAMETER, and it gives up.
    expect(code).toBe(2);
    expect(out).toMatch(/^error SetNamedPipeHandleState 87/);
    expect(h.links).toHaveLength(0);
    const member = await new NamedPipeEndpoint(name, { pipeIo }).connect();
    cleanup.push(() => member.close());
    member.start({ onFrame: () => {}, onClose: () => {} });
    member.send(frame('ok'));
    await until(() => h.links[0]?.frames.length === 1);
    expect(h.links[0]?.link.peer?.pid).toBe(process.pid);
  });

  it('drops a client whose first bytes are not the hello, and one that stays silent', async () => {
    const name = uniqueName('ep');
    const h = await hub(name, { handshakeTimeout: 300 });
    const port = sharedCompletionPort();
    const rude = await NamedPipeClient.open(h.endpoint.path, false);
    const silent = await NamedPipeClient.open(h.endpoint.path, false);
    cleanup.push(
      () => rude.closed || rude.close(),
      () => silent.closed || silent.close(),
    );
    const started = Date.now();
    await port.write(rude, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    // Each side learns it was dropped when its read fails with ERROR_BROKEN_PIPE.
    const rudeEnd = port.read(rude, 100).catch((e: unknown) => e);
    const silentEnd = port.read(silent, 100).catch((e: unknown) => e);
    expect(await rudeEnd).toMatchObject({ symbol: 'ERROR_BROKEN_PIPE' });
    expect(await silentEnd).toMatchObject({ symbol: 'ERROR_BROKEN_PIPE' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(h.links).toHaveLength(0); // neither was ever handed to the hub
  });

  it('drops a member that sends half a frame and then nothing, within stallTimeout', async () => {
    const name = uniqueName('ep');
    const h = await hub(name, { stallTimeout: 300 });
    const port = sharedCompletionPort();
    const raw = await NamedPipeClient.open(h.endpoint.path, false);
    cleanup.push(() => raw.closed || raw.close());
    await port.write(raw, prefixed(PIPE_HELLO));
    const whole = prefixed(
      encodeEnvelope({ kind: FrameKind.Publish, origin: 9, sequence: 1, topic: 't', payload: new Uint8Array(500) }),
    );
    await port.write(raw, whole.subarray(0, 100));
    await until(() => h.links.length === 1);
    const started = Date.now();
    await until(() => h.links[0]?.closed.length === 1, 3000);
    expect(h.links[0]?.closed[0]).toBeInstanceOf(StalledFrameError);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('drops a member trickling a frame one byte every 50 ms once stallTimeout has passed since its first byte; others carry on', async () => {
    const name = uniqueName('ep');
    const stallTimeout = 600;
    const h = await hub(name, { stallTimeout });
    const good = await new NamedPipeEndpoint(name, { pipeIo }).connect();
    cleanup.push(() => good.close());
    const back: Uint8Array[] = [];
    good.start({ onFrame: (f) => back.push(f.slice()), onClose: () => {} });
    await until(() => h.links.length === 1);
    const port = sharedCompletionPort();
    const raw = await NamedPipeClient.open(h.endpoint.path, false);
    cleanup.push(() => raw.closed || raw.close());
    await port.write(raw, prefixed(PIPE_HELLO));
    await until(() => h.links.length === 2);
    const trickler = h.links[1];
    // 2 KB at one byte per 50 ms would take 100 s: only a deadline on the whole frame ends it.
    const slow = prefixed(
      encodeEnvelope({ kind: FrameKind.Publish, origin: 9, sequence: 1, topic: 't', payload: new Uint8Array(2000) }),
    );
    const written: number[] = [];
    for (const byte of slow) {
      // Bounded, so that a link that is never dropped fails the assertions below, not the timeout.
      if (trickler?.closed.length !== 0 || Date.now() - (written[0] ?? Date.now()) > stallTimeout * 4) break;
      try {
        await port.write(raw, Uint8Array.of(byte));
      } catch {
        break; // the hub closed its end between our check and this write
      }
      written.push(Date.now());
      await new Promise((r) => setTimeout(r, 50));
    }
    const closedAt = Date.now();
    expect(trickler?.closed[0]).toBeInstanceOf(StalledFrameError);
    const elapsed = closedAt - (written[0] ?? closedAt);
    // Not before the deadline, and not long after it (timer and Wine scheduling slack).
    expect(elapsed).toBeGreaterThanOrEqual(stallTimeout - 50);
    expect(elapsed).toBeLessThan(stallTimeout + 700);
    // Bytes kept arriving right up to the drop: it was not silence that ended the link.
    expect(written.length).toBeGreaterThanOrEqual(8);
    expect(closedAt - (written.at(-1) ?? 0)).toBeLessThan(400);
    // The hub still serves the other member, both ways.
    good.send(frame('still here'));
    await until(() => h.links[0]?.frames.length === 1);
    h.links[0]?.link.send(frame('so is the hub'));
    await until(() => back.length === 1);
    expect(h.links[0]?.closed).toHaveLength(0);
  });

  it('the deadline is per frame: frames that each complete in time pass, though a partial frame is always pending', async () => {
    const name = uniqueName('ep');
    const stallTimeout = 600;
    const h = await hub(name, { stallTimeout });
    const port = sharedCompletionPort();
    const raw = await NamedPipeClient.open(h.endpoint.path, false);
    cleanup.push(() => raw.closed || raw.close());
    await port.write(raw, prefixed(PIPE_HELLO));
    await until(() => h.links.length === 1);
    const frames = [1, 2, 3, 4, 5].map((n) => frame(`frame-${n}`));
    const stream = Buffer.concat(frames.map(prefixed));
    // Cut in the middle of each frame: every write completes one frame and starts the next, so
    // some frame is unfinished for the whole 1.5 s, four times longer than one frame takes.
    const cuts = [0];
    let at = 0;
    for (const f of frames) {
      cuts.push(at + Math.floor((4 + f.length) / 2));
      at += 4 + f.length;
    }
    cuts.push(stream.length);
    for (let i = 1; i < cuts.length; i += 1) {
      await port.write(raw, stream.subarray(cuts[i - 1], cuts[i]));
      await new Promise((r) => setTimeout(r, 300));
    }
    await until(() => h.links[0]?.frames.length === 5);
    expect(h.links[0]?.frames).toEqual(frames);
    expect(h.links[0]?.closed).toHaveLength(0);
  });

  /**
   * A hub with one well-behaved member, and a raw client that has completed the handshake and
   * writes what a test gives it: the member must keep working whatever happens to the raw one.
   */
  async function hubWithRawMember(options: Record<string, unknown>) {
    const h = await hub(uniqueName('ep'), options);
    const good = await h.endpoint.connect();
    cleanup.push(() => good.close());
    const back: Uint8Array[] = [];
    good.start({ onFrame: (f) => back.push(f.slice()), onClose: () => {} });
    await until(() => h.links.length === 1);
    const port = sharedCompletionPort();
    const raw = await NamedPipeClient.open(h.endpoint.path, false);
    cleanup.push(() => raw.closed || raw.close());
    await port.write(raw, prefixed(PIPE_HELLO));
    // Read the welcome off the pipe, so that the next read can only see the hub hang up.
    const welcome = prefixed(PIPE_WELCOME);
    let got = Buffer.alloc(0);
    while (got.length < welcome.length)
      got = Buffer.concat([got, (await port.read(raw, welcome.length - got.length)).bytes]);
    expect(got).toEqual(welcome);
    await until(() => h.links.length === 2);
    const rawLink = h.links[1];
    /** Write `bytes`, then wait (up to 5 s) until the hub closes the raw member: how long it took, and why. */
    const dropAfter = async (bytes: Uint8Array): Promise<{ ms: number; reason: Error | undefined }> => {
      const started = Date.now();
      await port.write(raw, bytes);
      await until(() => rawLink?.closed.length === 1, 5000);
      const ms = Date.now() - started;
      // The raw client sees it too: its read fails once the hub has closed its end.
      expect(await port.read(raw, 100).catch((e: unknown) => e)).toMatchObject({ symbol: 'ERROR_BROKEN_PIPE' });
      return { ms, reason: rawLink?.closed[0] };
    };
    const goodStillWorks = async (): Promise<void> => {
      good.send(frame('still here'));
      await until(() => h.links[0]?.frames.length === 1);
      h.links[0]?.link.send(frame('so is the hub'));
      await until(() => back.length === 1);
      expect(h.links[0]?.closed).toHaveLength(0);
    };
    return { dropAfter, goodStillWorks };
  }

  it('closes a member that announces a frame over the limit, on the length alone; others carry on', async () => {
    const { dropAfter, goodStillWorks } = await hubWithRawMember({ maxFrameSize: 4096, readBufferSize: 1024 });
    // Only the 4-byte length, no body: a hub that waited for the frame before judging its size
    // would hold the member until stallTimeout (5 s by default) and then blame a stall.
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(10_000);
    const { ms, reason } = await dropAfter(prefix);
    expect(reason).toMatchObject({ name: 'FrameTooLargeError', size: 10_000, limit: 4096 });
    expect(reason).not.toBeInstanceOf(FrameError);
    expect(ms).toBeLessThan(2000);
    await goodStillWorks();
  });

  it('closes a member that sends garbage behind a plausible length (bad magic); others carry on', async () => {
    const { dropAfter, goodStillWorks } = await hubWithRawMember({});
    // 60 bytes that are no envelope, behind a length that is well within maxFrameSize.
    const junk = Buffer.alloc(4 + 60, 0xaa);
    junk.writeUInt32BE(60);
    const { ms, reason } = await dropAfter(junk);
    expect(reason).toBeInstanceOf(FrameError);
    expect(reason?.message).toMatch(/bad magic/);
    expect(ms).toBeLessThan(2000);
    await goodStillWorks();
  });
});

describe('NamedPipeEndpoint at scale', () => {
  async function hubWithMembers(options: { pipeIo?: 'libuv' | 'completion-port' }, check: () => void) {
    const name = uniqueName('ep');
    const endpoint = new NamedPipeEndpoint(name, options);
    const received = new Set<FrameLink>();
    const listener = await endpoint.listen((link) =>
      link.start({ onFrame: () => received.add(link), onClose: () => {} }),
    );
    const members: FrameLink[] = [];
    try {
      for (let i = 0; i < 100; i += 1) {
        const member = await endpoint.connect();
        member.start({ onFrame: () => {}, onClose: () => {} });
        members.push(member);
      }
      for (const member of members) member.send(frame('hello'));
      await until(() => received.size === 100, 20_000);
      check();
    } finally {
      for (const member of members) member.close();
      await listener.close();
    }
  }

  it("by default the pipes of a hub with 100 members are served by libuv, none by busway's completion port", async () => {
    // The official node.exe exports uv_open_osfhandle; without it the default would fall back.
    expect(canOpenPipeSockets()).toBe(true);
    const before = sharedCompletionPort().stats.pending;
    await hubWithMembers({}, () => {
      // 200 pipe ends (hub side and member side) are reading, and none of those reads is ours
      // (earlier tests' cancelled reads may still be draining, hence at most `before`).
      expect(sharedCompletionPort().stats.pending).toBeLessThanOrEqual(before);
    });
  }, 60_000);

  it("hubs waiting for members share one waiter thread, so libuv's thread pool stays free for fs", async () => {
    // One more hub than the pool has threads: with a waiter (a blocked pool thread) per hub, this
    // stat would queue behind their waits for good.
    const hubs = Number(process.env.UV_THREADPOOL_SIZE ?? 4) + 2;
    const listeners: HubListener[] = [];
    try {
      for (let i = 0; i < hubs; i += 1) listeners.push(await new NamedPipeEndpoint(uniqueName('ep')).listen(() => {}));
      const outcome = await Promise.race([
        stat(fileURLToPath(import.meta.url)).then(() => 'done'),
        new Promise((r) => setTimeout(() => r('stuck behind the waits'), 5000)),
      ]);
      expect(outcome).toBe('done');
      expect(sharedHandleWaiter().stats.pending).toBeGreaterThanOrEqual(hubs);
    } finally {
      for (const listener of listeners) await listener.close();
    }
  }, 30_000);

  it('with pipeIo: completion-port, a hub with 100 members keeps one read pending per member on one completion-port thread', async () => {
    await hubWithMembers({ pipeIo: 'completion-port' }, () => {
      const stats = sharedCompletionPort().stats;
      // 200 pipe ends each with a read pending (hub side and member side), all waited on by a
      // single GetQueuedCompletionStatusEx call: one worker thread, not one per client.
      expect(stats.pending).toBeGreaterThanOrEqual(200);
      expect(stats.maxWaitsInFlight).toBe(1);
    });
  }, 60_000);
});
