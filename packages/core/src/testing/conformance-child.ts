/**
 * The other OS process of the conformance suite: a bus member that echoes, answers and hangs on
 * command. It talks to the parent only over the bus under test, so it works whatever stdio the
 * platform gives child processes (node.exe under Wine cannot write to a Linux pipe).
 *
 * Usage: `node conformance-child.js <url> [transportOptionsJson]`
 *
 * @module
 */
import { interval, NEVER, take } from 'rxjs';
import { createBus } from '../create-bus.js';

const [url, optionsJson] = process.argv.slice(2);
if (url === undefined) {
  process.stderr.write('usage: conformance-child <url> [transportOptionsJson]\n');
  process.exit(2);
}

const bus = await createBus({
  url,
  transportOptions: optionsJson === undefined ? {} : (JSON.parse(optionsJson) as Record<string, unknown>),
});

bus.subscribe('conf.in.>').subscribe((m) => {
  void bus.publish(`conf.out.${m.topic.slice('conf.in.'.length)}`, m.data).catch(() => undefined);
});
bus.handle<number, number>('conf.stream', (req) => interval(1).pipe(take(req.data)));
bus.handle('conf.hang', () => NEVER);
bus.handle('conf.pid', () => process.pid);
bus.subscribe('conf.exit').subscribe(() => {
  void bus.close().then(() => process.exit(0));
});

// Tell the parent we are ready, once our interest has reached it: a request travels the same
// ordered path as our Subscribe/Handle frames, so an answer proves they arrived first.
for (let attempt = 0; ; attempt += 1) {
  try {
    await new Promise<void>((resolve, reject) => {
      bus.request('conf.ready', process.pid, { timeout: 1000 }).subscribe({ complete: resolve, error: reject });
    });
    break;
  } catch (err) {
    if (attempt >= 60) {
      process.stderr.write(`conformance child: parent never answered: ${String(err)}\n`);
      process.exit(3);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
