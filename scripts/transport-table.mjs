#!/usr/bin/env node
/**
 * The README's table of transports, drawn from what the code declares: each transport is built
 * (not opened) from its package's `createTransport`, and its capabilities (ordering, reliability,
 * largest frame, broadcast) fill the table. Mechanism and reach are prose and live here.
 *
 *   node scripts/transport-table.mjs          print the table
 *   node scripts/transport-table.mjs --write  rewrite the README between its markers
 *   node scripts/transport-table.mjs --check  fail when the README is out of date (CI)
 *
 * Capabilities are read on the platform this runs on; where Win32 differs, the prose says so.
 * Needs the packages built (`pnpm build`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readmePath = join(root, 'README.md');
const START = '<!-- transport-table:start -->';
const END = '<!-- transport-table:end -->';

const TRANSPORTS = [
  {
    url: 'pipe://orders',
    pkg: '@busway/transport-pipe',
    mechanism: 'Win32 named pipe, overlapped I/O (POSIX: Unix domain socket in a 0700 directory)',
    reach: 'one machine; `pipe://server/name` reaches another Windows machine when enabled',
  },
  {
    url: 'mmf://orders?size=16MiB',
    pkg: '@busway/transport-mmf',
    mechanism: 'a ring in shared memory: named file mapping (POSIX: `shm_open` + `mmap`), futex/event wake-ups',
    reach: 'one machine',
    loss: 'a reader that falls a whole ring behind skips ahead; fragments of large messages wait for readers instead',
    counted: "counted at once in `stats()['transport.framesLost']`",
  },
  {
    url: 'mailslot://orders',
    pkg: '@busway/transport-mailslot',
    mechanism: 'Win32 mailslots, one per member (POSIX: Unix datagram sockets in a 0700 directory)',
    reach: 'one machine; `mailslot://*/name` broadcasts to a Windows domain in 424-byte frames',
    loss: 'datagrams may be lost or duplicated',
  },
  {
    url: 'tcp://127.0.0.1:7400',
    pkg: '@busway/transport-socket',
    mechanism: 'TCP through a hub member (Winsock on Windows)',
    reach: 'machines that reach the address; loopback unless a host is named',
  },
  {
    url: 'tls://127.0.0.1:7401',
    pkg: '@busway/transport-socket',
    mechanism: 'TLS over TCP through a hub member, optional client certificates',
    reach: 'as tcp://',
  },
  {
    url: 'udp://239.1.2.3:7402',
    pkg: '@busway/transport-socket',
    mechanism: 'UDP multicast or broadcast datagrams, no hub',
    reach: 'loopback unless the `interface` option names a LAN interface; then one LAN segment',
    loss: 'datagrams may be lost, duplicated or reordered',
    // A shared secret adds a tag and a timestamp to each datagram: the frame shrinks by as much.
    secretFrame: true,
  },
  {
    url: 'memory://orders',
    pkg: '@busway/core',
    mechanism: 'in-process routing, no I/O',
    reach: 'one process',
  },
];

function size(bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes.toLocaleString('en-US')} B`;
}

async function capabilitiesOf({ url, pkg }, options = {}) {
  const mod = await import(pkg);
  const parsed = new URL(url);
  const context = { memberId: 1, maxFrameSize: 16 * 1024 * 1024, options };
  const transport =
    pkg === '@busway/core' ? new mod.MemoryTransport(parsed, context) : await mod.createTransport(parsed, context);
  const caps = transport.capabilities;
  await transport.close?.().catch(() => undefined);
  return caps;
}

async function table() {
  const lines = [
    '| URL | mechanism | reach | ordering | reliability | frame; message | broadcast |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const t of TRANSPORTS) {
    const c = await capabilitiesOf(t);
    // Gaps are holes in a sender's sequence: seen once that sender's later frames pass them.
    const counted = t.counted ?? 'counted in `stats().gaps` once later frames of the same sender pass them';
    const secret = t.secretFrame
      ? `, ${size((await capabilitiesOf(t, { secret: 'x' })).maxFrameSize)} with a \`secret\``
      : '';
    lines.push(
      `| \`${t.url}\` | ${t.mechanism} | ${t.reach} | ${c.ordered ? 'per sender' : 'none'} | ${
        c.reliable ? 'reliable while connected' : `lossy (${t.loss}); losses ${counted}`
      } | ${size(c.maxFrameSize)}${secret}; larger messages fragmented, up to 256 MiB | ${
        c.broadcast === 'native' ? 'native: every member receives every frame' : 'routed by interest through a hub'
      } |`,
    );
  }
  lines.push(
    '',
    'Every transport gets duplicate suppression, fragmentation and request/reply from the core. On',
    "an unordered transport a sender's messages may arrive out of order, but never twice. The",
    "ordering, reliability, frame and broadcast columns come from each transport's declared",
    `capabilities on ${process.platform} (\`node scripts/transport-table.mjs\` regenerates them).`,
  );
  return lines.join('\n');
}

const generated = await table();
const mode = process.argv[2];
if (mode === undefined) {
  console.log(generated);
} else {
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  // Formatted as `prettier --check` (part of lint) expects, so the two checks agree.
  const prettier = await import('prettier');
  const updated = await prettier.format(
    `${readme.slice(0, start + START.length)}\n${generated}\n${readme.slice(end)}`,
    {
      ...(await prettier.resolveConfig(readmePath)),
      filepath: readmePath,
    },
  );
  if (mode === '--write') {
    writeFileSync(readmePath, updated);
    console.log('README.md transport table updated');
  } else if (mode === '--check') {
    if (updated !== readme) {
      console.error('README.md transport table is out of date: run node scripts/transport-table.mjs --write');
      process.exit(1);
    }
    console.log('README.md transport table matches the code');
  } else {
    console.error('usage: node scripts/transport-table.mjs [--write|--check]');
    process.exit(2);
  }
}
