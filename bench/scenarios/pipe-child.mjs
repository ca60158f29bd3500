/**
 * Far end of the busway pipe:// benchmarks, in its own process: it joins first, so it is the hub,
 * and either counts `bench.m` messages (`sink`, reporting `{ type: 'done', count }` when told
 * `bench.done`) or answers `bench.rr` requests with their payload (`echo`); `frame-sink` and
 * `frame-echo` do the same with bare frames on the transport, no bus.
 * Usage (forked by pipe.mjs): node pipe-child.mjs <mode> <pipe://name> <transportOptionsJson>
 * Loaded by run.mjs as a scenario file too, where it defines no scenario and does nothing.
 */
import { pathToFileURL } from 'node:url';

export const scenarios = [];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { createBus, registerTransport } = await import('@busway/core');
  const { createTransport } = await import('../../packages/transport-pipe/dist/index.js');
  registerTransport('pipe', createTransport);
  const [mode, url, optionsJson] = process.argv.slice(2);
  const options = JSON.parse(optionsJson ?? '{}');
  if (mode === 'frame-sink' || mode === 'frame-echo') {
    const { encodeEnvelope, FrameKind } = await import('@busway/core/internal');
    const transport = await createTransport(new URL(url), { memberId: 2, maxFrameSize: 1 << 24, options });
    await transport.open();
    transport.send(encodeEnvelope({ kind: FrameKind.Subscribe, origin: 2, sequence: 1, topic: 'bench.>' }));
    const reply = encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 2,
      sequence: 2,
      topic: 'bench.pong',
      payload: new Uint8Array(64),
    });
    let count = 0;
    transport.frames$.subscribe((frame) => {
      if (mode === 'frame-echo') transport.send(reply);
      else if (frame.bytes.length > 60) count += 1;
      else {
        process.send({ type: 'done', count });
        count = 0;
      }
    });
    process.send({ type: 'listening', address: url });
    process.on('disconnect', () => process.exit(0));
    process.on('SIGTERM', () => void transport.close().then(() => process.exit(0)));
  } else {
    const bus = await createBus({ url, transportOptions: options });
    if (mode === 'sink') {
      let count = 0;
      bus.subscribe('bench.m').subscribe(() => (count += 1));
      bus.subscribe('bench.done').subscribe(() => {
        process.send({ type: 'done', count });
        count = 0;
      });
    } else {
      bus.handle('bench.rr', (req) => req.data);
    }
    process.send({ type: 'listening', address: url });
    process.on('disconnect', () => process.exit(0));
    process.on('SIGTERM', () => void bus.close().then(() => process.exit(0)));
  }
}
