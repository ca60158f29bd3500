import { afterAll, expect, it } from 'vitest';
import { newBase, openBus, uniqueBus, until } from './helpers.js';

const { base, remove } = newBase();
afterAll(remove);

it('two members exchange a message', async () => {
  const url = `mailslot://${uniqueBus()}`;
  const a = await openBus(url, base);
  const b = await openBus(url, base);
  const got: unknown[] = [];
  b.subscribe('x.*').subscribe((m) => got.push(m.data));
  await a.publish('x.y', { n: 1 });
  await until(() => got.length === 1);
  expect(got).toEqual([{ n: 1 }]);
  console.log(a.stats(), b.stats());
  await a.close();
  await b.close();
});
