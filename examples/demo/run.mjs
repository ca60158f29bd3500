#!/usr/bin/env node
/**
 * The busway demo: a service and a client in two OS processes on one bus, doing publish/subscribe
 * and a streaming request/reply, printing what passes. The transport is the best one available on
 * this platform; set BUSWAY_URL (for example tcp://127.0.0.1:7400) to pick another.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pickUrl } from './pick-url.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { url, why } = await pickUrl();
console.log(`busway demo on ${url} (${why})\n`);

if (url.startsWith('memory:')) {
  const { startService } = await import('./service.mjs');
  const { runClient } = await import('./client.mjs');
  const { bus, done } = await startService(url, (l) => console.log(`[service] ${l}`));
  const count = await runClient(url, (l) => console.log(`[client ] ${l}`));
  await done;
  await bus.close();
  process.exit(count === 5 ? 0 : 1);
}

/** Start a demo process; resolves with its exit code. */
function start(script, onLine) {
  const child = spawn(process.execPath, [join(here, script), url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return { child, exited };
}

const watchdog = setTimeout(() => {
  console.error('demo: timed out after 30 s');
  process.exit(1);
}, 30_000);

let ready;
const serviceReady = new Promise((r) => (ready = r));
const service = start('service.mjs', (line) => (line === 'READY' ? ready() : console.log(line)));
await Promise.race([serviceReady, service.exited]);
const client = start('client.mjs', (line) => console.log(line));
const [clientCode, serviceCode] = await Promise.all([client.exited, service.exited]);
clearTimeout(watchdog);
console.log(
  `\ndemo ${clientCode === 0 && serviceCode === 0 ? 'finished' : 'FAILED'} (client exit ${clientCode}, service exit ${serviceCode})`,
);
process.exit(clientCode === 0 && serviceCode === 0 ? 0 : 1);
