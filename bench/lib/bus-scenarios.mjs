/**
 * The scenarios every busway transport is measured with, written once: bus one-way throughput and
 * bus round trip against a member in a child process (lib/bus-child.mjs), and the same with bare
 * frames on the transport and no bus ("transport only"): the difference between the two is the bus
 * (codec, dedup, rpc). A scenario module describes its transport with {@link busTransport} and
 * builds its rows from these functions, keeping only what is its own (URLs, groups, options).
 *
 * Like the peers, the receiver counts: the clock stops when it has seen the last message, so
 * nothing is left in buffers.
 *
 * @module
 */
import { lastValueFrom } from 'rxjs';
import { createBus, registerTransport } from '@busway/core';
import { encodeEnvelope, FrameKind } from '@busway/core/internal';
import { startChild } from './child.mjs';
import { afterWarmUp, throughput, timeRoundTrips } from './measure.mjs';

const CHILD = new URL('./bus-child.mjs', import.meta.url);

// On Windows (and under Wine) there is no Unix socket or zeromq peer: the local rows sit in the
// named-pipe groups that pipe.mjs defines (net \\.\pipe\ baseline, busway pipe://), same run.
export const onWindows = process.platform === 'win32';
export const LOCAL_ONE_WAY = onWindows ? 'pipe-win32-one-way' : 'local-one-way';
export const LOCAL_ROUND_TRIP = onWindows ? 'pipe-win32-round-trip' : 'local-round-trip';

/**
 * Register a transport in this process and describe it for the scenarios and their child.
 *
 * - `scheme`, `module`: the URL scheme and the file URL of the transport's built `dist/index.js`
 *   (the child imports it too).
 * - `url()`: a fresh bus URL for one run (may be async).
 * - `options`: transport options, for the bus (`transportOptions`) and the bare transport alike.
 * - `routed`: a hub transport, which forwards bare frames only to subscribed members (tcp, pipe);
 *   false for a broadcast medium (mmf's ring).
 * - `drainBelow`: after each batch, yield until the link's `sendQueueBytes` is at most this many
 *   bytes, as net's 'drain' would; without it, one turn per batch.
 *
 * @example
 * const pipe = await busTransport({ scheme: 'pipe', module: new URL('…/dist/index.js', import.meta.url), url: () => 'pipe://x' });
 * const figures = await busOneWay(pipe, { durationMs: 1000 });
 */
export async function busTransport({ scheme, module, url, options = {}, routed = false, drainBelow }) {
  const { createTransport } = await import(module.href);
  registerTransport(scheme, createTransport);
  return { scheme, module, url, options, routed, drainBelow, createTransport };
}

/** Fork lib/bus-child.mjs as the far end of `t` in `mode` on `url` (see that file for the modes). */
export function startBusChild(t, mode, url) {
  const spec = { scheme: t.scheme, module: t.module.href, options: t.options, routed: t.routed };
  return startChild(CHILD, [mode, url, JSON.stringify(spec)]);
}

const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// BufferFullError is recognised by its code, not instanceof: under Wine the workspace symlinks
// resolve to different URLs, so the transport may throw a class from another copy of core.
const isBufferFull = (err) => err?.code === 'BUFFER_FULL';

/**
 * Send one frame that must get through (a pass's closing "done"): a send refused with BufferFull,
 * the link's queue still full of the pass, waits 1 ms and tries again instead of failing the row.
 */
async function untilAccepted(send) {
  for (;;) {
    try {
      return await send();
    } catch (err) {
      if (!isBufferFull(err)) throw err;
      await sleep(1);
    }
  }
}

/** One turn, then more while `queued()` (the link's send queue) is above `t.drainBelow`: the coalesced write and the socket get their turn. */
async function paced(t, queued) {
  do await turn();
  while (t.drainBelow !== undefined && queued() > t.drainBelow);
}

/**
 * Call `send()` `batch` times between turns (see {@link paced}) until `durationMs` is up. A send
 * is awaited only when it returns a promise (an awaited bus publish); one that returns nothing (a
 * bare transport's send, as the rows have always done it, or a publish not waited on) costs no microtask. A BufferFull send waits 1 ms and is counted.
 */
async function sendFor(t, durationMs, batch, send, queued) {
  let sent = 0;
  let full = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  while (performance.now() < deadline) {
    for (let i = 0; i < batch; i += 1) {
      try {
        const pending = send();
        if (pending !== undefined) await pending;
        sent += 1;
      } catch (err) {
        if (!isBufferFull(err)) throw err;
        // Backpressure: the link's queue is at its bound; let it drain.
        full += 1;
        await sleep(1);
      }
    }
    await paced(t, queued);
  }
  return { sent, full, t0 };
}

/**
 * Publish `bench.done` carrying `pass` and wait for the sink's report of that pass. On a lossy
 * medium the done frame itself may be lost (a lapped mmf reader skips to live data), so it is sent
 * again every 250 ms, up to 40 times, rather than waiting forever; the retries then lengthen the
 * measured time, which only understates that row. A retry that crossed the report makes the sink
 * report that pass again: such stale reports (of an earlier pass) are skipped here.
 */
async function announceDone(bus, peer, lossy, pass) {
  const reportOf = async () => {
    for (;;) {
      const report = await peer.next('done');
      if (report.pass === pass) return report;
    }
  };
  const report = reportOf();
  if (!lossy) {
    await untilAccepted(() => bus.publish('bench.done', pass));
    return report;
  }
  for (let attempt = 0; attempt < 40; attempt += 1) {
    await untilAccepted(() => bus.publish('bench.done', pass));
    const done = await Promise.race([report, sleep(250).then(() => undefined)]);
    if (done !== undefined) return done;
  }
  throw new Error('the sink never reported: 40 bench.done frames lost');
}

const notes = (...parts) => parts.filter(Boolean).join('; ') || undefined;
const retriesNote = (full) => (full > 0 ? `${full} BufferFull retries` : undefined);

/** `sent` against what the receiver counted: a lossy transport explains the gap, any other fails. */
function checkCount(sent, count, done, lossNote, what) {
  if (lossNote) return lossNote(sent, count, done);
  if (count !== sent) throw new Error(`receiver counted ${count} of ${sent} ${what}`);
  return undefined;
}

/**
 * Publish `size`-byte messages for `durationMs`, `batch` at a time between turns, to a sink member
 * in a child process; msgs/s as counted by the sink. Options: `url` (else `t.url()`), `settleMs`
 * (wait before the clock starts, for a sink whose Hello/Subscribe must reach us), `fireAndForget`
 * (do not await each publish: a lossy medium whose sender never waits), `lossNote(sent, count,
 * done)` (a transport that may lose: the note to show; without it a shortfall fails the run).
 */
export async function busOneWay(t, { durationMs, size = 64, batch = 256, url, settleMs = 0, fireAndForget, lossNote }) {
  url ??= await t.url();
  const peer = await startBusChild(t, 'sink', url);
  const bus = await createBus({ url, transportOptions: t.options });
  try {
    if (settleMs > 0) await sleep(settleMs);
    const payload = new Uint8Array(size).fill(0x61);
    const publish = fireAndForget ? () => void bus.publish('bench.m', payload) : () => bus.publish('bench.m', payload);
    const queued = () => bus.stats()['transport.sendQueueBytes'] ?? 0;
    let passes = 0;
    const pass = async (ms) => {
      const { sent, full, t0 } = await sendFor(t, ms, batch, publish, queued);
      passes += 1;
      const done = await announceDone(bus, peer, lossNote !== undefined, passes);
      const elapsed = performance.now() - t0;
      const loss = checkCount(sent, done.count, done, lossNote, 'messages');
      return { ...throughput(done.count, size, elapsed), note: notes(loss, retriesNote(full)) };
    };
    return await afterWarmUp(pass, durationMs);
  } finally {
    await bus.close();
    await peer.stop();
  }
}

/** Request/reply with one request in flight to an echo member in a child process: p50/p99. */
export async function busRoundTrip(t, { durationMs, size = 64, url }) {
  url ??= await t.url();
  const peer = await startBusChild(t, 'echo', url);
  const bus = await createBus({ url, transportOptions: t.options });
  try {
    const payload = new Uint8Array(size).fill(0x61);
    const ask = () => lastValueFrom(bus.request('bench.rr', payload, { timeout: 5000 }));
    // Where members learn of each other by broadcast (mmf, mailslot), the echo's Handle frame may
    // not have reached us yet: retry the first request (untimed, like the warm-up).
    for (let i = 0; ; i += 1) {
      try {
        await ask();
        break;
      } catch (err) {
        if (i > 50) throw err;
        await sleep(50);
      }
    }
    return await timeRoundTrips(ask, { durationMs });
  } finally {
    await bus.close();
    await peer.stop();
  }
}

/** A bare transport of `t` as member 1 on `url`, open. */
async function openTransport(t, url) {
  const transport = await t.createTransport(new URL(url), { memberId: 1, maxFrameSize: 1 << 24, options: t.options });
  await transport.open();
  return transport;
}

/**
 * The transport alone: bare Publish frames (`size`-byte payload) to `subscribers` frame-sinks in
 * child processes, `batch` sends between turns; deliveries per second over all sinks. Options:
 * `url`, `lossNote` as for {@link busOneWay}; `frameBytes` (MB/s counts whole frames, not payloads).
 */
export async function transportOneWay(
  t,
  { durationMs, size = 64, batch = 256, subscribers = 1, url, lossNote, frameBytes = false },
) {
  url ??= await t.url();
  const peers = [];
  try {
    for (let i = 0; i < subscribers; i += 1) peers.push(await startBusChild(t, 'frame-sink', url));
    const transport = await openTransport(t, url);
    try {
      const frame = encodeEnvelope({
        kind: FrameKind.Publish,
        origin: 1,
        sequence: 1,
        topic: 'bench.m',
        payload: new Uint8Array(size),
      });
      const queued = () => transport.stats()['sendQueueBytes'] ?? 0;
      const done = encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 2, topic: 'bench.d' });
      const pass = async (ms) => {
        const { sent, full, t0 } = await sendFor(t, ms, batch, () => void transport.send(frame), queued);
        if (t.drainBelow !== undefined) await paced(t, queued);
        await untilAccepted(() => transport.send(done));
        const results = await Promise.all(peers.map((p) => p.next('done')));
        const elapsed = performance.now() - t0;
        const count = results.reduce((sum, r) => sum + r.count, 0);
        const loss = checkCount(sent * subscribers, count, results[0], lossNote, 'frames');
        const figures = throughput(count, frameBytes ? frame.length : size, elapsed);
        return { ...figures, note: notes(loss, retriesNote(full)) };
      };
      return await afterWarmUp(pass, durationMs);
    } finally {
      await transport.close();
    }
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
}

/** The transport alone: a bare frame to a frame-echo in a child process and one back, one in flight. */
export async function transportRoundTrip(t, { durationMs, size = 64, url }) {
  url ??= await t.url();
  const peer = await startBusChild(t, 'frame-echo', url);
  try {
    const transport = await openTransport(t, url);
    try {
      if (t.routed) {
        transport.send(encodeEnvelope({ kind: FrameKind.Subscribe, origin: 1, sequence: 1, topic: 'bench.pong' }));
      }
      const frame = encodeEnvelope({
        kind: FrameKind.Publish,
        origin: 1,
        sequence: 2,
        topic: 'bench.ping',
        payload: new Uint8Array(size),
      });
      let wake;
      transport.frames$.subscribe(() => wake());
      return await timeRoundTrips(
        () =>
          new Promise((resolve) => {
            wake = resolve;
            transport.send(frame);
          }),
        { durationMs },
      );
    } finally {
      await transport.close();
    }
  } finally {
    await peer.stop();
  }
}
