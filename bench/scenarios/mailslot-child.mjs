/**
 * Far end of the busway mailslot:// benchmarks, in its own process. Modes: `sink` (a bus member
 * counting `bench.m` until `bench.done`) and `echo` (answers `bench.rr`).
 * Usage (forked by mailslot.mjs): node mailslot-child.mjs <mode> <mailslot://…> <directory>
 * Loaded by run.mjs as a scenario file too, where it defines no scenario and does nothing.
 */
import { pathToFileURL } from 'node:url';

export const scenarios = [];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { createBus, registerTransport } = await import('@busway/core');
  const { createTransport } = await import('../../packages/transport-mailslot/dist/index.js');
  registerTransport('mailslot', createTransport);
  const [mode, url, directory] = process.argv.slice(2);
  const bus = await createBus({ url, transportOptions: { directory } });
  if (mode === 'sink') {
    let count = 0;
    bus.subscribe('bench.m').subscribe(() => (count += 1));
    bus.subscribe('bench.done').subscribe(() => {
      process.send({ type: 'done', count, stats: bus.stats() });
      count = 0;
    });
  } else {
    bus.handle('bench.rr', (req) => req.data);
  }
  process.send({ type: 'listening', address: url });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => void bus.close().then(() => process.exit(0)));
}
