/**
 * The far end of every busway transport benchmark (lib/bus-scenarios.mjs), in its own process.
 * It registers the transport named by its spec and, in the shape the mode asks for, joins first:
 * on a hub transport (tcp://, pipe://) it is the hub, so the measured path is member → hub over
 * one connection, like the peers' one socket.
 *
 * Modes:
 * - `sink`: a bus member counting `bench.m` until `bench.done` (whose data is the pass number),
 *   then `{ type: 'done', pass, count, stats }`.
 * - `echo`: a bus member answering `bench.rr` with its payload.
 * - `frame-sink` / `frame-echo`: the same with bare frames on the transport, no bus (what the
 *   transport costs by itself). A frame-sink counts frames longer than 60 bytes and takes a short
 *   one as "done" (`{ type: 'done', count, bytes, stats }`); a frame-echo answers every frame.
 * - `idle`: joins as a bare transport and sits.
 * In every mode, `{ type: 'cpu', ms }` over IPC is answered with the CPU used over the next `ms`.
 *
 * Usage (forked by bus-scenarios.mjs): node bus-child.mjs <mode> <url> <specJson>, where the spec
 * is `{ scheme, module, options, routed }` (module: the file URL of the transport's dist).
 */
const [mode, url, specJson] = process.argv.slice(2);
const { scheme, module, options = {}, routed = false } = JSON.parse(specJson);
const { createBus, registerTransport } = await import('@busway/core');
const { createTransport } = await import(module);
registerTransport(scheme, createTransport);

let close;
if (mode.startsWith('frame-') || mode === 'idle') {
  const { encodeEnvelope, FrameKind } = await import('@busway/core/internal');
  const transport = await createTransport(new URL(url), { memberId: 2, maxFrameSize: 1 << 24, options });
  await transport.open();
  // A hub forwards a frame only to the members subscribed to its topic. On a broadcast medium
  // (mmf's ring) every member sees every frame, so a Subscribe there would reach the other sinks
  // as a short frame, which they take for "done".
  if (routed) transport.send(encodeEnvelope({ kind: FrameKind.Subscribe, origin: 2, sequence: 1, topic: 'bench.>' }));
  const reply = encodeEnvelope({
    kind: FrameKind.Publish,
    origin: 2,
    sequence: 2,
    topic: 'bench.pong',
    payload: new Uint8Array(64),
  });
  let count = 0;
  let bytes = 0;
  transport.frames$.subscribe((frame) => {
    if (mode === 'frame-echo') transport.send(reply);
    else if (frame.bytes.length > 60) {
      count += 1;
      bytes += frame.bytes.length;
    } else {
      process.send({ type: 'done', count, bytes, stats: transport.stats() });
      count = 0;
      bytes = 0;
    }
  });
  close = () => transport.close();
} else {
  const bus = await createBus({ url, transportOptions: options });
  if (mode === 'sink') {
    let count = 0;
    // One report per pass (bench.done carries the pass number). A done sent again for a pass
    // already reported (a lossy medium's retry) repeats that report rather than counting anew.
    let last = { pass: undefined };
    bus.subscribe('bench.m').subscribe(() => (count += 1));
    bus.subscribe('bench.done').subscribe(({ data: pass }) => {
      if (pass !== last.pass) {
        last = { type: 'done', pass, count, stats: bus.stats() };
        count = 0;
      }
      process.send(last);
    });
  } else {
    bus.handle('bench.rr', (req) => req.data);
  }
  close = () => bus.close();
}
process.on('message', (msg) => {
  if (msg?.type !== 'cpu') return;
  const before = process.cpuUsage();
  setTimeout(() => {
    const used = process.cpuUsage(before);
    process.send({ type: 'cpu', percent: ((used.user + used.system) / 1000 / msg.ms) * 100 });
  }, msg.ms);
});
process.send({ type: 'listening', address: url });
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => void close().then(() => process.exit(0)));
