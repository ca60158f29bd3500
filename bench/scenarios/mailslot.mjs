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
import {
  busOneWay,
  busRoundTrip,
  busTransport,
  LOCAL_ONE_WAY as ONE_WAY,
  LOCAL_ROUND_TRIP as ROUND_TRIP,
} from '../lib/bus-scenarios.mjs';
import { GROUPS } from '../lib/groups.mjs';

let n = 0;
const busUrl = (domain) => `mailslot://${domain ? '*/' : ''}bench-${process.pid}-${++n}`;
const mailslot = await busTransport({
  scheme: 'mailslot',
  module: new URL('../../packages/transport-mailslot/dist/index.js', import.meta.url),
  url: () => busUrl(false),
  options: { directory: mkdtempSync(join(tmpdir(), 'bw-bench-mailslot-')) },
});
/** Wine maps drive Z: to the Linux root. */
const isWine = () => existsSync('Z:\\usr\\bin');

GROUPS['local-one-way-4k'] ??= {
  title: 'Local one-way, 4 KiB messages, receiver in a child process',
  baseline: 'busway mailslot:// 4 KiB',
  better: 'throughput',
};

/** Publish for `durationMs` (awaiting each publish: the transport applies backpressure), then count at the sink. */
const oneWay = ({ durationMs, size, domain = false }) =>
  busOneWay(mailslot, {
    durationMs,
    size,
    url: busUrl(domain),
    batch: 64,
    settleMs: 200, // the sink's Hello and Subscribe reach us
    lossNote: (sent, count, { stats }) =>
      sent > count ? `${sent - count} of ${sent} lost (gaps ${stats.gaps})` : undefined,
  });

// ONE_WAY / ROUND_TRIP: on Windows (and under Wine) the Unix-socket baselines do not exist: sit
// beside the named-pipe groups that pipe.mjs defines (net \\.\pipe\ baseline, busway pipe://), same run.

export const scenarios = [
  { name: 'busway mailslot://', group: ONE_WAY, run: ({ durationMs }) => oneWay({ durationMs, size: 64 }) },
  { name: 'busway mailslot://', group: ROUND_TRIP, run: (ctx) => busRoundTrip(mailslot, ctx) },
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
