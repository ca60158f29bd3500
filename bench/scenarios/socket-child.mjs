/**
 * Far end of the busway tcp:// benchmarks, in its own process: it joins first, so it is the hub,
 * and either counts `bench.m` messages (`sink`, reporting `{ type: 'done', count }` when told
 * `bench.done`) or answers `bench.rr` requests with their payload (`echo`).
 * Usage (forked by socket.mjs): node socket-child.mjs <sink|echo> <tcp://host:port>
 * Loaded by run.mjs as a scenario file too, where it defines no scenario and does nothing.
 */
import { pathToFileURL } from 'node:url';

export const scenarios = [];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { createBus, registerTransport } = await import('@busway/core');
  const { createTransport } = await import('../../packages/transport-socket/dist/index.js');
  registerTransport('tcp', createTransport);
  const [mode, url] = process.argv.slice(2);
  const bus = await createBus({ url });
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
