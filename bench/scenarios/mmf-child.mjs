/**
 * Far end of the busway mmf:// benchmarks, in its own process. Modes: `sink` (a bus member counting
 * `bench.m` until `bench.done`), `echo` (answers `bench.rr`), `frame-sink` / `frame-echo` (the
 * transport alone, no bus), `idle` (joins and sits; answers `{ type: 'cpu' }` with the CPU it used
 * over the next `ms`).
 * Usage (forked by mmf.mjs): node mmf-child.mjs <mode> <mmf://name?size=…>
 * Loaded by run.mjs as a scenario file too, where it defines no scenario and does nothing.
 */
import { pathToFileURL } from 'node:url';

export const scenarios = [];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { createBus, registerTransport } = await import('@busway/core');
  const { createTransport } = await import('../../packages/transport-mmf/dist/index.js');
  registerTransport('mmf', createTransport);
  const [mode, url] = process.argv.slice(2);
  let close;
  if (mode.startsWith('frame-') || mode === 'idle') {
    const { encodeEnvelope, FrameKind } = await import('@busway/core/internal');
    const transport = await createTransport(new URL(url), { memberId: 2, maxFrameSize: 1 << 24, options: {} });
    await transport.open();
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
    const bus = await createBus({ url });
    if (mode === 'sink') {
      let count = 0;
      bus.subscribe('bench.m').subscribe(() => (count += 1));
      bus.subscribe('bench.done').subscribe(() => {
        process.send({ type: 'done', count, stats: bus.stats?.() });
        count = 0;
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
}
