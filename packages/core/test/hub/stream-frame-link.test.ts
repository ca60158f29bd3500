import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkEnvelopeHeader, encodeEnvelope, FrameKind, peekRoute } from '../../src/envelope.js';
import { BufferFullError, ClosedError, FrameError, FrameTooLargeError } from '../../src/errors.js';
import {
  SocketReadBuffer,
  StalledFrameError,
  StreamFrameLink,
  type StreamFrameLinkOptions,
} from '../../src/hub/index.js';

const frameOf = (topic: string, payload = 0): Uint8Array =>
  encodeEnvelope({ kind: FrameKind.Publish, origin: 7, sequence: 1, topic, payload: new Uint8Array(payload).fill(1) });

const prefixed = (frame: Uint8Array): Buffer => {
  const out = Buffer.alloc(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
};

async function until(check: () => boolean, timeout = 3000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'bw-sfl-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const open: net.Socket[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  vi.restoreAllMocks(); // a spy on a global (setImmediate) must not outlive a failed test
  for (const s of open.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** How the link under test reads: `'data'` chunks (an accepted socket), or `onread` into one buffer. */
type Reading = 'data' | 'onread';

/** The read buffer each `onread` socket was created with, for {@link linkOver}. */
const readsOf = new WeakMap<net.Socket, SocketReadBuffer>();

/** The link under test over `near`, reading the way `near` was made to read. */
function linkOver(near: net.Socket, options: StreamFrameLinkOptions = {}): StreamFrameLink {
  const reads = readsOf.get(near);
  return new StreamFrameLink(near, reads === undefined ? options : { ...options, reads });
}

let pipes = 0;
/**
 * A connected pair: `near` (for the link under test) and `far` (a raw socket the test drives).
 * With `'data'`, `near` is the accepted end, as on a hub; with `'onread'` it is the connecting
 * end, created with a {@link SocketReadBuffer}'s `onread`, as a member's is.
 */
async function pair(kind: 'tcp' | 'unix', reading: Reading = 'data'): Promise<{ near: net.Socket; far: net.Socket }> {
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer({ pauseOnConnect: true }, resolve);
    servers.push(server);
    if (kind === 'tcp') server.listen(0, '127.0.0.1');
    else server.listen(join(directory, `s${(pipes += 1)}.sock`));
  });
  const server = servers.at(-1) as net.Server;
  await new Promise((r) => server.once('listening', r));
  const address = server.address();
  const reads = reading === 'onread' ? new SocketReadBuffer() : undefined;
  const where: net.NetConnectOpts =
    typeof address === 'string' ? { path: address } : { port: (address as net.AddressInfo).port, host: '127.0.0.1' };
  const connecting = net.connect(reads === undefined ? where : { ...where, onread: reads.onread });
  connecting.on('error', () => undefined);
  await new Promise((r) => connecting.once('connect', r));
  const acceptedEnd = await accepted;
  acceptedEnd.on('error', () => undefined);
  open.push(acceptedEnd, connecting);
  if (reads === undefined) return { near: acceptedEnd, far: connecting };
  readsOf.set(connecting, reads);
  // Reading, though paused, as a connecting socket is: so it notices when the link drops it.
  acceptedEnd.read(0);
  return { near: connecting, far: acceptedEnd };
}

/** Send 64 KiB frames to a link whose far end never reads until one is refused; what was thrown. */
function sendUntilRefused(link: StreamFrameLink): unknown {
  const big = frameOf('fill', 64 * 1024);
  for (let i = 0; i < 10_000; i += 1) {
    try {
      link.send(big);
    } catch (err) {
      return err;
    }
  }
  return undefined;
}

interface Started {
  link: StreamFrameLink;
  frames: Uint8Array[];
  closed: Promise<Error | undefined>;
}

function start(link: StreamFrameLink): Started {
  const frames: Uint8Array[] = [];
  const closed = new Promise<Error | undefined>((resolve) =>
    link.start({ onFrame: (f) => frames.push(f.slice()), onClose: resolve }),
  );
  return { link, frames, closed };
}

/** Everything `far` receives, split back into frames by a second link. */
function reader(far: net.Socket, options: StreamFrameLinkOptions = {}): Started {
  return start(new StreamFrameLink(far, options));
}

// The TCP transport's and the pipe transport's option sets, in core's names.
const TCP_OPTIONS = { maxFrameSize: 1 << 20, frameTimeout: 30_000, writeBufferLimit: 8 << 20 };
const PIPE_OPTIONS = { maxFrameSize: 16 << 20, frameTimeout: 5000, writeBufferLimit: 8 << 20 };

describe.each([
  ['tcp', 'data', TCP_OPTIONS],
  ['unix', 'data', PIPE_OPTIONS],
  ['tcp', 'onread', TCP_OPTIONS],
  ['unix', 'onread', PIPE_OPTIONS],
] as const)('StreamFrameLink over %s, reading with %s', (kind, reading, options) => {
  it('carries frames both ways, in order', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, options));
    const b = reader(far, options);
    for (let i = 0; i < 100; i += 1) a.link.send(frameOf(`a.${i}`, i));
    b.link.send(frameOf('back'));
    await until(() => b.frames.length === 100 && a.frames.length === 1);
    expect(b.frames.map((f) => f.length)).toEqual(Array.from({ length: 100 }, (_, i) => frameOf(`a.${i}`, i).length));
    expect(a.frames[0]).toEqual(frameOf('back'));
  });

  it('writes the first frame of a turn at once, and the rest of the turn in one write at its end', async () => {
    const { near, far } = await pair(kind, reading);
    const link = linkOver(near, options);
    const b = reader(far);
    const write = vi.spyOn(near, 'write');
    link.send(frameOf('one'));
    // A lone request or reply does not wait for the end of the turn.
    expect(write).toHaveBeenCalledTimes(1);
    await Promise.resolve(); // later frames of the turn, across microtasks
    link.send(frameOf('two'));
    link.send(frameOf('three'));
    expect(write).toHaveBeenCalledTimes(1);
    expect(link.queuedBytes).toBeGreaterThanOrEqual(2 * 4 + frameOf('two').length + frameOf('three').length);
    await turn();
    expect(write).toHaveBeenCalledTimes(2);
    await until(() => b.frames.length === 3);
    expect(b.frames.map((f) => peekRoute(f).topic)).toEqual(['one', 'two', 'three']);
    link.send(frameOf('next turn'));
    expect(write).toHaveBeenCalledTimes(3); // a new turn: its first frame leaves at once again
    await turn();
    expect(write).toHaveBeenCalledTimes(3);
  });

  it('in a ping-pong, every frame goes out at once and no end-of-turn task is scheduled', async () => {
    const { near, far } = await pair(kind, reading);
    const link = linkOver(near, options);
    const write = vi.spyOn(near, 'write');
    const immediate = vi.spyOn(globalThis, 'setImmediate');
    /** How many writes and end-of-turn tasks one send caused, synchronously. */
    const sendCounted = (topic: string): [number, number] => {
      const [writes, tasks] = [write.mock.calls.length, immediate.mock.calls.length];
      link.send(frameOf(topic));
      return [write.mock.calls.length - writes, immediate.mock.calls.length - tasks];
    };
    const answers: [number, number][] = [];
    link.start({ onFrame: () => answers.push(sendCounted('pong')), onClose: () => undefined });
    const b = reader(far, options);
    expect(sendCounted('ping')).toEqual([1, 0]);
    // The reply is sent from the read, before any end of turn: the read is what makes it lone.
    b.link.send(frameOf('ping back'));
    await until(() => answers.length === 1);
    expect(answers).toEqual([[1, 0]]);
    await until(() => b.frames.length === 2);
    expect(b.frames.map((f) => peekRoute(f).topic)).toEqual(['ping', 'pong']);
    // A second frame with no read in between is a burst: it waits for the end of the turn.
    expect(sendCounted('burst')).toEqual([0, 1]);
    await until(() => b.frames.length === 3);
  });

  it('writes a batch as soon as it reaches 64 KiB, without waiting for the end of the turn', async () => {
    const { near, far } = await pair(kind, reading);
    const link = linkOver(near, options);
    const b = reader(far);
    const write = vi.spyOn(near, 'write');
    const small = frameOf('s', 1000); // ~1 KiB each
    link.send(small); // the turn's first frame, written at once
    let sent = 1;
    while (write.mock.calls.length === 1) {
      link.send(small);
      sent += 1;
    }
    const batched = (sent - 1) * (4 + small.length);
    expect(batched).toBeGreaterThanOrEqual(64 * 1024);
    expect(batched).toBeLessThan(64 * 1024 + 4 + small.length);
    await until(() => b.frames.length === sent);
  });

  it('writes a frame of 64 KiB or more as it is (uncopied), after what was queued before it', async () => {
    const { near, far } = await pair(kind, reading);
    const link = linkOver(near, options);
    const b = reader(far);
    const write = vi.spyOn(near, 'write');
    const big = frameOf('big', 200_000);
    link.send(frameOf('first'));
    link.send(big);
    // The queued small frame flushed first, then the prefix, then the caller's own bytes.
    expect(write).toHaveBeenCalledTimes(3);
    expect(write.mock.calls[2]?.[0]).toBe(big);
    await until(() => b.frames.length === 2);
    expect(b.frames[0]).toEqual(frameOf('first'));
    expect(b.frames[1]?.length).toBe(big.length);
  });

  it('refuses with BufferFullError once over the write bound, and takes one frame past it when idle', async () => {
    const { near } = await pair(kind, reading); // the far end never reads
    const limit = 256 * 1024;
    const link = linkOver(near, { ...options, writeBufferLimit: limit });
    link.start({ onFrame: () => undefined, onClose: () => undefined });
    link.send(frameOf('larger than the bound', limit * 2)); // an idle link takes it
    const thrown = sendUntilRefused(link);
    expect(thrown).toBeInstanceOf(BufferFullError);
    expect((thrown as BufferFullError).limit).toBe(limit);
    expect(link.queuedBytes).toBeGreaterThan(limit);
  });

  it('sendInPlace: a lone frame is written straight behind its prefix, a burst is batched as by send', async () => {
    const { near, far } = await pair(kind);
    const link = new StreamFrameLink(near, options);
    const b = reader(far);
    const write = vi.spyOn(near, 'write');
    const targets: Array<[Uint8Array, number]> = [];
    const writerOf = (frame: Uint8Array) => ({
      writeFrame(target: Uint8Array, at: number): void {
        targets.push([target, at]);
        target.set(frame, at);
      },
    });
    const one = frameOf('one', 10);
    link.sendInPlace(one.length, writerOf(one));
    // Written once, into the very buffer handed to the socket, behind the prefix.
    expect(write).toHaveBeenCalledTimes(1);
    expect(targets[0]?.[0]).toBe(write.mock.calls[0]?.[0]);
    expect(targets[0]?.[1]).toBe(4);
    expect(Buffer.from(write.mock.calls[0]?.[0] as Uint8Array)).toEqual(prefixed(one));
    // The rest of the turn waits for its end, in bytes of their own, then goes in one write.
    const two = frameOf('two', 20);
    const big = frameOf('big', 100_000);
    link.sendInPlace(two.length, writerOf(two));
    expect(targets[1]?.[1]).toBe(0);
    expect(write).toHaveBeenCalledTimes(1);
    link.sendInPlace(big.length, writerOf(big)); // 64 KiB or more: flushes what was queued first
    await until(() => b.frames.length === 3);
    expect(b.frames).toEqual([one, two, big]);
  });

  it('sendInPlace throws what send throws, before calling the writer', async () => {
    const { near } = await pair(kind); // the far end never reads
    const limit = 256 * 1024;
    const link = new StreamFrameLink(near, { ...options, maxFrameSize: 1 << 20, writeBufferLimit: limit });
    link.start({ onFrame: () => undefined, onClose: () => undefined });
    const writeFrame = vi.fn((target: Uint8Array, at: number) => target.set(frameOf('x'), at));
    expect(() => link.sendInPlace((1 << 20) + 1, { writeFrame })).toThrow(FrameTooLargeError);
    const thrown = sendUntilRefused(link);
    expect(thrown).toBeInstanceOf(BufferFullError);
    expect(() => link.sendInPlace(frameOf('x').length, { writeFrame })).toThrow(BufferFullError);
    link.close();
    expect(() => link.sendInPlace(frameOf('x').length, { writeFrame })).toThrow(ClosedError);
    expect(writeFrame).not.toHaveBeenCalled();
  });

  it('refuses to send a frame above maxFrameSize', async () => {
    const { near } = await pair(kind, reading);
    const link = linkOver(near, { ...options, maxFrameSize: 1024 });
    expect(() => link.send(frameOf('too big', 2000))).toThrow(FrameTooLargeError);
  });

  it('closes with StalledFrameError when half a frame is followed by silence', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, { ...options, frameTimeout: 200 }));
    const started = Date.now();
    far.write(prefixed(frameOf('t', 1000)).subarray(0, 300));
    const reason = await a.closed;
    expect(reason).toBeInstanceOf(StalledFrameError);
    expect((reason as StalledFrameError).code).toBe('STALLED_FRAME');
    expect((reason as StalledFrameError).received).toBe(300);
    expect((reason as StalledFrameError).timeout).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(far.destroyed || (await new Promise((r) => far.once('close', r)))).toBeTruthy();
  });

  it('closes with StalledFrameError when a frame trickles in without pause but past the deadline', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, { ...options, frameTimeout: 300 }));
    const bytes = prefixed(frameOf('t', 1000));
    let at = 0;
    const started = Date.now();
    const trickle = setInterval(() => {
      if (!far.destroyed && at < bytes.length) far.write(bytes.subarray(at, (at += 10)));
    }, 20);
    try {
      expect(await a.closed).toBeInstanceOf(StalledFrameError);
    } finally {
      clearInterval(trickle);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(a.frames).toEqual([]);
  });

  it('gives each frame its own deadline: a steady stream of whole frames is never dropped', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, { ...options, frameTimeout: 400 }));
    const bytes = prefixed(frameOf('t', 100));
    // Each frame split across two writes 150 ms apart, 8 frames: ~1.2 s in all, 3× the deadline.
    for (let i = 0; i < 4; i += 1) {
      far.write(bytes.subarray(0, 50));
      await new Promise((r) => setTimeout(r, 150));
      far.write(Buffer.concat([bytes.subarray(50), bytes.subarray(0, 10)]));
      far.write(bytes.subarray(10, 50));
      await new Promise((r) => setTimeout(r, 150));
      far.write(bytes.subarray(50));
    }
    await until(() => a.frames.length === 8);
    expect(a.link.closed).toBe(false);
  });

  it('closes with FrameError on garbage behind a plausible length', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, options));
    const junk = Buffer.alloc(4 + 60, 0xaa);
    junk.writeUInt32BE(60);
    far.write(junk);
    expect(await a.closed).toBeInstanceOf(FrameError);
    expect(() => a.link.send(frameOf('x'))).toThrow(ClosedError);
  });

  it('hands out only frames whose header passed the check (checksFrames), whole or in pieces', async () => {
    // A hub's router does not check again what a link with checksFrames hands it.
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, options));
    expect(a.link.checksFrames).toBe(true);
    const good = frameOf('ok', 100);
    const bytes = prefixed(good);
    for (let at = 0; at < bytes.length; at += 7) {
      far.write(bytes.subarray(at, at + 7)); // the header straddles reads
      await turn();
    }
    await until(() => a.frames.length === 1);
    const badKind = frameOf('bad');
    badKind[3] = 99;
    far.write(Buffer.concat([prefixed(frameOf('ok')), prefixed(badKind), prefixed(frameOf('after'))]));
    expect(await a.closed).toBeInstanceOf(FrameError);
    expect(a.frames.map((f) => peekRoute(f).topic)).toEqual(['ok', 'ok']);
    for (const f of a.frames) expect(() => checkEnvelopeHeader(f, f.length)).not.toThrow();
  });

  it('closes with FrameTooLargeError on an oversized length, before the body arrives', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, { ...options, maxFrameSize: 1024 }));
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(0xfff0_0000);
    far.write(prefix);
    const reason = await a.closed;
    expect(reason).toBeInstanceOf(FrameTooLargeError);
    expect((reason as FrameTooLargeError).size).toBe(0xfff0_0000);
  });

  it('close(): queued frames still leave, the far end sees an orderly end, onClose gets no error', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, options));
    const b = reader(far, options);
    a.link.send(frameOf('last words'));
    a.link.close();
    a.link.close(); // idempotent
    expect(a.link.closed).toBe(true);
    expect(() => a.link.send(frameOf('x'))).toThrow(ClosedError);
    expect(await b.closed).toBeUndefined();
    expect(b.frames).toEqual([frameOf('last words')]);
    expect(await a.closed).toBeUndefined();
  });

  it('close(error): the error is the reason, and the far end is reset', async () => {
    const { near, far } = await pair(kind, reading);
    const a = start(linkOver(near, options));
    const b = reader(far, options);
    const why = new Error('shutting this one down');
    a.link.close(why);
    expect(await a.closed).toBe(why);
    await b.closed; // reset or end, depending on the platform: gone either way
    expect(b.link.closed).toBe(true);
  });

  it('reports a close that happened before start, at start, with its reason', async () => {
    const { near } = await pair(kind, reading);
    const link = linkOver(near, options);
    const why = new Error('closed before anyone listened');
    link.close(why);
    await until(() => near.destroyed);
    const a = start(link);
    expect(await a.closed).toBe(why);
  });

  it('reads nothing before start, then delivers what waited', async () => {
    const { near, far } = await pair(kind, reading);
    const link = linkOver(near, options);
    far.write(prefixed(frameOf('early')));
    await new Promise((r) => setTimeout(r, 50));
    const a = start(link);
    await until(() => a.frames.length === 1);
    expect(a.frames[0]).toEqual(frameOf('early'));
    expect(() => link.start({ onFrame: () => undefined, onClose: () => undefined })).toThrow(/twice/);
  });

  it('decodes leftover bytes (read past a handshake) before the socket’s own', async () => {
    const { near, far } = await pair(kind, reading);
    const whole = Buffer.concat([prefixed(frameOf('one')), prefixed(frameOf('two'))]);
    // The handshake read one frame and a half; the rest is still in the socket.
    const split = whole.length - 10;
    const a = start(linkOver(near, { ...options, leftover: whole.subarray(0, split) }));
    expect(a.frames).toEqual([frameOf('one')]);
    far.write(whole.subarray(split));
    far.write(prefixed(frameOf('three')));
    await until(() => a.frames.length === 3);
    expect(a.frames).toEqual([frameOf('one'), frameOf('two'), frameOf('three')]);
  });
});

describe.each(['tcp', 'unix'] as const)('StreamFrameLink over %s, reading into one reused buffer', (kind) => {
  /** A frame whose every payload byte depends on `i`, so one overwritten by another shows. */
  const numbered = (i: number, size = 40 + ((i * 37) % 400)): Uint8Array =>
    encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 7,
      sequence: i + 1,
      topic: `n.${i}`,
      payload: new Uint8Array(size).map((_, j) => (i * 13 + j) & 0xff),
    });

  it('hands out frames whole within a read as views of it, and frames split across reads intact', async () => {
    const { near, far } = await pair(kind, 'onread');
    const reads = readsOf.get(near) as SocketReadBuffer;
    const got: Uint8Array[] = [];
    let views = 0;
    linkOver(near, { maxFrameSize: 1 << 20 }).start({
      onFrame: (frame) => {
        if (frame.buffer === reads.onread.buffer.buffer) views += 1;
        got.push(frame.slice()); // taken during the call, as the contract asks
      },
      onClose: () => undefined,
    });
    const sent: Uint8Array[] = [];
    const wire = (i: number, size?: number): Buffer => {
      const frame = numbered(i, size);
      sent.push(frame);
      return prefixed(frame);
    };
    // Many frames to a read, ending in the start of one that is larger than the buffer.
    const burst = Buffer.concat([...Array.from({ length: 150 }, (_, i) => wire(i)), wire(150, 200_000)]);
    far.write(burst.subarray(0, burst.length - 150_000));
    await until(() => got.length === 150);
    // The rest of it, more frames, and a frame whose header is split across three reads: every
    // read now overwrites the buffer the earlier frames and pieces were read into.
    const tail = Buffer.concat([burst.subarray(burst.length - 150_000), wire(151), wire(152)]);
    far.write(tail);
    await until(() => got.length === 153);
    const split = wire(153, 3000);
    for (const [from, to] of [
      [0, 3],
      [3, 30],
      [30, split.length],
    ] as const) {
      far.write(split.subarray(from, to));
      await turn();
      await new Promise((r) => setTimeout(r, 5));
    }
    far.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => wire(154 + i))));
    await until(() => got.length === sent.length);
    for (const [i, frame] of sent.entries()) {
      if (Buffer.compare(Buffer.from(got[i] as Uint8Array), Buffer.from(frame)) !== 0) {
        expect.fail(`frame ${i} arrived altered`);
      }
    }
    expect(views).toBeGreaterThan(100); // zero-copy is what the reused buffer is for
  });

  it('keeps what arrives before the link exists, stops reading, and delivers it first', async () => {
    const { near, far } = await pair(kind, 'onread');
    const reads = readsOf.get(near) as SocketReadBuffer;
    // The socket reads as soon as it connects: a hub's first frames may come before the link.
    const early = Buffer.concat([prefixed(numbered(0)), prefixed(numbered(1))]);
    far.write(early);
    await until(() => reads.heldBytes === early.length);
    far.write(prefixed(numbered(2)));
    await new Promise((r) => setTimeout(r, 50));
    expect(reads.heldBytes).toBe(early.length); // stopped reading: nothing more was taken
    const a = start(linkOver(near, {}));
    expect(a.frames).toEqual([numbered(0), numbered(1)]); // held reads, at start
    far.write(prefixed(numbered(3)));
    await until(() => a.frames.length === 4);
    expect(a.frames).toEqual([0, 1, 2, 3].map((i) => numbered(i)));
    expect(near.listenerCount('data')).toBe(0);
  });
});

describe('StreamFrameLink peer identity', () => {
  it('is host:port on TCP, undefined on a Unix socket, and the given one when passed', async () => {
    const tcp = await pair('tcp');
    expect(new StreamFrameLink(tcp.near).peer).toEqual({ address: `127.0.0.1:${tcp.far.localPort}` });
    const unix = await pair('unix');
    expect(new StreamFrameLink(unix.near).peer).toBeUndefined();
    expect(new StreamFrameLink(unix.far, { peer: { pid: 1, uid: 2 } }).peer).toEqual({ pid: 1, uid: 2 });
  });
});
