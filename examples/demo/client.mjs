/** The client side of the demo: publishes orders and asks for a stream of quotes. */
import { createBus, NoRespondersError } from '@busway/core';
import { lastValueFrom, tap, toArray } from 'rxjs';

export async function runClient(url, log) {
  const bus = await createBus(url);
  log(`joined ${url} as member ${bus.id}`);
  for (let id = 1; id <= 3; id += 1) {
    await bus.publish(`orders.created`, { id, item: ['tea', 'bread', 'jam'][id - 1] });
    log(`published orders.created #${id}`);
  }
  let quotes;
  for (let attempt = 0; ; attempt += 1) {
    try {
      quotes = await lastValueFrom(
        bus.request('price.quote', { sku: 'TEA-1' }, { timeout: 2000 }).pipe(
          tap((q) => log(`quote ${q.tick}: ${q.sku} at ${q.price}`)),
          toArray(),
        ),
      );
      break;
    } catch (err) {
      if (!(err instanceof NoRespondersError) || attempt > 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  log(`stream complete: ${quotes.length} quotes`);
  await bus.publish('demo.done', null);
  await bus.close();
  return quotes.length;
}

if (process.argv[1]?.endsWith('client.mjs')) {
  const log = (line) => console.log(`[client  pid ${process.pid}] ${line}`);
  const count = await runClient(process.argv[2], log);
  process.exit(count === 5 ? 0 : 1);
}
