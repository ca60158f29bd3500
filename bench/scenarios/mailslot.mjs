/**
 * busway mailslot:// (Unix datagram sockets on Linux) beside raw `net` over a Unix socket and
 * zeromq.js ipc:// (scenarios in peers.mjs), same run, same groups; and, when the pipe transport's
 * scenarios exist, beside busway pipe:// too. The far end is a member in a child process.
 * Figures: one-way 64 B and 4 KiB messages (4 KiB also through `mailslot://*\/…`, whose 424-byte
 * frames make core fragment every message into ~11 datagrams), and round-trip p50.
 * Under Wine, run the harness itself with the Windows node.exe (see the package README):
 *   wine node.exe bench/run.mjs mailslot --no-build
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { createBus, registerTransport } from '@busway/core';
import { createTransport } from '../../packages/transport-mailslot/dist/index.js';
import { startChild } from '../lib/child.mjs';
import { GROUPS } from '../lib/groups.mjs';
import { throughput, timeRoundTrips } from '../lib/measure.mjs';

const CHILD = new URL('./mailslot-child.mjs', import.meta.url);
registerTransport('mailslot', createTransport);
const directory = mkdtempSync(join(tmpdir(), 'bw-bench-mailslot-'));
let n = 0;
const busUrl = (domain) => `mailslot://${domain ? '*/' : ''}bench-${process.pid}-${++n}`;
/** Wine maps drive Z: to the Linux root. */
const isWine = () => existsSync('Z:\\usr\\bin');
const yieldTurn = () => new Promise((r) => setImmediate(r));

GROUPS['local-one-way-4k'] ??= {
  title: 'Local one-way, 4 KiB messages, receiver in a child process',
  baseline: 'busway mailslot:// 4 KiB',
  better: 'throughput',
};

/** Publish for `durationMs` (awaiting each publish: the transport applies backpressure), then count at the sink. */
async function oneWay({ durationMs, size, domain = false }) {
  const url = busUrl(domain);
  const peer = await startChild(CHILD, ['sink', url, directory]);
  const bus = await createBus({ url, transportOptions: { directory } });
  try {
    await new Promise((r) => setTimeout(r, 200)); // the sink's Hello and Subscribe reach us
    const payload = new Uint8Array(size).fill(0x61);
    let sent = 0;
    const t0 = performance.now();
    const deadline = t0 + durationMs;
    while (performance.now() < deadline) {
      for (let i = 0; i < 64; i += 1) {
        await bus.publish('bench.m', payload);
        sent += 1;
      }
      await yieldTurn();
    }
    await bus.publish('bench.done', null);
    const { count, stats } = await peer.next('done');
    const elapsed = performance.now() - t0;
    const lost = sent - count;
    return {
      ...throughput(count, size, elapsed),
      note: lost > 0 ? `${lost} of ${sent} lost (gaps ${stats.gaps})` : undefined,
    };
  } finally {
    await bus.close();
    await peer.stop();
  }
}

async function roundTrip({ durationMs, size = 64 }) {
  const url = busUrl(false);
  const peer = await startChild(CHILD, ['echo', url, directory]);
  const bus = await createBus({ url, transportOptions: { directory } });
  try {
    const payload = new Uint8Array(size).fill(0x61);
    const ask = () => lastValueFrom(bus.request('bench.rr', payload, { timeout: 5000 }));
    for (let i = 0; ; i += 1) {
      try {
        await ask();
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return await timeRoundTrips(ask, { durationMs });
  } finally {
    await bus.close();
    await peer.stop();
  }
}

// On Windows (and under Wine) the Unix-socket baselines do not exist: sit beside the named-pipe
// groups that pipe.mjs defines (net \\.\pipe\ baseline, busway pipe://), same run.
const onWindows = process.platform === 'win32';
const ONE_WAY = onWindows ? 'pipe-win32-one-way' : 'local-one-way';
const ROUND_TRIP = onWindows ? 'pipe-win32-round-trip' : 'local-round-trip';

export const scenarios = [
  { name: 'busway mailslot://', group: ONE_WAY, run: ({ durationMs }) => oneWay({ durationMs, size: 64 }) },
  { name: 'busway mailslot://', group: ROUND_TRIP, run: roundTrip },
  {
    name: 'busway mailslot:// 4 KiB',
    group: 'local-one-way-4k',
    baseline: true,
    run: ({ durationMs }) => oneWay({ durationMs, size: 4096 }),
  },
  {
    name: 'busway mailslot://*/ 4 KiB (424-byte frames)',
    group: 'local-one-way-4k',
    // Wine cannot open \\*\mailslot\… (ERROR_PATH_NOT_FOUND, checked by hand): no domain there.
    run: ({ durationMs }) =>
      process.platform === 'win32' && isWine()
        ? { skipped: 'Wine has no domain broadcast (\\\\*\\mailslot\\… fails with ERROR_PATH_NOT_FOUND)' }
        : oneWay({ durationMs, size: 4096, domain: true }),
  },
];
