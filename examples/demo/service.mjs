/** The service side of the demo: prints orders it sees and streams price quotes on request. */
import { createBus } from '@busway/core';
import { interval, map, take } from 'rxjs';

export async function startService(url, log) {
  const bus = await createBus(url);
  bus
    .subscribe('orders.>')
    .subscribe((m) => log(`received ${m.topic} ${JSON.stringify(m.data)} from member ${m.sender.member}`));
  bus.handle('price.quote', (req) => {
    log(`quote request for ${req.data.sku}: streaming 5 prices`);
    return interval(100).pipe(
      take(5),
      map((tick) => ({ sku: req.data.sku, tick, price: +(99.5 + Math.sin(tick) * 2).toFixed(2) })),
    );
  });
  const done = new Promise((resolve) => bus.subscribe('demo.done').subscribe(() => resolve()));
  return { bus, done };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('service.mjs')) {
  const url = process.argv[2];
  const log = (line) => console.log(`[service pid ${process.pid}] ${line}`);
  const { bus, done } = await startService(url, log);
  log(`joined ${url} as member ${bus.id}`);
  console.log('READY');
  await done;
  await bus.close();
  log('done');
}
