#!/usr/bin/env node
/**
 * The busway benchmark: `pnpm bench [filter…] [--duration=ms] [--rounds=n] [--no-build] [--json=file]`.
 *
 * Builds the workspace (`tsc -b`), loads every `scenarios/*.mjs`, runs the scenarios whose name,
 * group or file matches a filter (all when none is given), group by group, in `rounds` interleaved
 * rounds of `duration / rounds` each (the median round is reported), and prints one
 * table per comparison group with each figure as a ratio against the group's named baseline
 * (see `lib/groups.mjs`). Figures are only comparable within one run on one machine: read ratios.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { GROUPS } from './lib/groups.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
const value = (name) => flag(name)?.split('=')[1];
const filters = args.filter((a) => !a.startsWith('--')).map((f) => f.toLowerCase());
const durationMs = Number(value('duration') ?? 1500);
const rounds = Math.max(1, Number(value('rounds') ?? 3));

if (!flag('no-build')) {
  console.log('building: pnpm exec tsc -b');
  try {
    execSync('pnpm exec tsc -b', { cwd: root, stdio: 'inherit' });
  } catch {
    console.error('the build failed: fix it, or run with --no-build to measure the last build');
    process.exit(1);
  }
}

/** Every scenario of every module, tagged with the file it came from. */
const all = [];
// `*-child.mjs` files are the far ends that scenarios fork, not scenario modules.
const isScenarioFile = (f) => f.endsWith('.mjs') && !f.endsWith('-child.mjs');
for (const file of readdirSync(join(here, 'scenarios')).filter(isScenarioFile).sort()) {
  const mod = await import(pathToFileURL(join(here, 'scenarios', file)).href);
  // A module may bring its own comparison groups: `export const groups = { key: { title, baseline, better } }`.
  Object.assign(GROUPS, mod.groups ?? {});
  for (const s of mod.scenarios ?? []) all.push({ ...s, file: file.replace(/\.mjs$/, '') });
}
const unknown = all.filter((s) => GROUPS[s.group] === undefined);
if (unknown.length > 0) throw new Error(`unknown group in ${unknown.map((s) => `${s.file}: ${s.group}`).join(', ')}`);

const matches = (s) =>
  filters.length === 0 || filters.some((f) => [s.name, s.group, s.file].some((t) => t.toLowerCase().includes(f)));
const chosen = all.filter(matches);
// A group's baseline always runs beside any of its scenarios, so that ratios can be taken.
const groupsRun = new Set(chosen.map((s) => s.group));
const toRun = all.filter((s) => chosen.includes(s) || (s.baseline && groupsRun.has(s.group)));
if (toRun.length === 0) {
  console.error(`no scenario matches ${filters.join(', ')}; known: ${[...new Set(all.map((s) => s.file))].join(', ')}`);
  process.exit(1);
}

const load = loadavg()[0] ?? 0;
const cores = availableParallelism();
console.log(
  `node ${process.version} · ${cpus()[0]?.model ?? 'cpu'} × ${cores} · load ${load.toFixed(1)} · ${durationMs} ms per scenario in ${rounds} rounds`,
);
if (load > cores)
  console.log(
    `warning: load average ${load.toFixed(1)} exceeds ${cores} cores; absolute figures are depressed, ratios less so`,
  );

/** Run one scenario once, bounded by a watchdog; its figures or `{ error }`. */
async function runOnce(scenario, ms) {
  let timer;
  try {
    // A wedged scenario (a peer that died silently) must not hang the whole run.
    const limit = ms * 4 + 20_000;
    const watchdog = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result after ${limit} ms`)), limit);
    });
    return await Promise.race([scenario.run({ durationMs: ms }), watchdog]);
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

const median = (values) => {
  const v = values.filter((x) => x !== undefined).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[Math.floor((v.length - 1) / 2)];
};

/** Median of each figure over the rounds (a figure of a single round is itself). */
function combine(rounds) {
  const failed = rounds.find((r) => r.error || r.skipped);
  if (failed) return failed;
  const out = { ...rounds[0] };
  for (const key of ['msgsPerSec', 'mbPerSec', 'p50Us', 'p99Us']) out[key] = median(rounds.map((r) => r[key]));
  out.samples = rounds.reduce((n, r) => n + (r.samples ?? 0), 0);
  out.rounds = rounds.length;
  return out;
}

const results = [];
for (const group of Object.keys(GROUPS).filter((g) => groupsRun.has(g))) {
  const members = toRun
    .filter((s) => s.group === group)
    .sort((a, b) => Number(Boolean(b.baseline)) - Number(Boolean(a.baseline)));
  // Interleave: round after round of every scenario of the group, so that a machine whose load
  // changes during the run (shared CI, other work) skews no scenario more than the others.
  // A scenario with a costly start (a process under Wine) may ask for fewer rounds: `rounds: 1`.
  const roundsOf = (scenario) => Math.max(1, Math.min(rounds, scenario.rounds ?? rounds));
  const figures = members.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (const [i, scenario] of members.entries()) {
      const own = roundsOf(scenario);
      if (round >= own || figures[i].some((f) => f.error || f.skipped)) continue;
      process.stdout.write(`  ${GROUPS[group].title} · ${scenario.name} (${round + 1}/${own}) … `);
      const f = await runOnce(scenario, Math.max(200, Math.round(durationMs / own)));
      process.stdout.write(`${f.error ? `failed: ${f.error}` : f.skipped ? `skipped: ${f.skipped}` : 'done'}\n`);
      figures[i].push(f);
    }
  }
  for (const [i, scenario] of members.entries()) {
    results.push({
      group,
      file: scenario.file,
      name: scenario.name,
      baseline: Boolean(scenario.baseline),
      goal: scenario.goal,
      ...combine(figures[i]),
    });
  }
}

const fmt = (n, digits = 0) =>
  n === undefined
    ? ''
    : n >= 1e6
      ? `${(n / 1e6).toFixed(2)} M`
      : n >= 1e4
        ? `${(n / 1e3).toFixed(0)} k`
        : n.toFixed(digits);
const GOAL_LABEL = { msgsPerSec: 'msgs/s', mbPerSec: 'MB/s', p50Us: 'p50 µs', p99Us: 'p99 µs' };

/**
 * "met"/"MISSED" for a scenario's goal, or each of its goals (an array). A goal is absolute,
 * `{ metric: 'mbPerSec', atLeast: 1000 }` or `{ metric: 'p50Us', below: 5 }`, or relative to
 * another scenario of the same group in the same run, `{ vs: 'net tcp', metric: 'msgsPerSec',
 * atLeast: 1.5 }` or `{ vs: 'net tcp', metric: 'p50Us', atMost: 1.2 }`, with an optional short
 * `label` for that scenario.
 */
function goalText(r, rows) {
  if (r.goal === undefined) return '';
  return [r.goal]
    .flat()
    .map((g) => {
      const v = r[g.metric];
      if (g.vs !== undefined) {
        const other = rows.find((o) => o.name === g.vs)?.[g.metric];
        const want = `${g.atLeast !== undefined ? `≥ ${+g.atLeast.toFixed(2)}` : `≤ ${+g.atMost.toFixed(2)}`}× ${g.label ?? g.vs}`;
        if (v === undefined || !other) return `${want}: n/a`;
        const ratio = v / other;
        return `${want}: ${(g.atLeast !== undefined ? ratio >= g.atLeast : ratio <= g.atMost) ? 'met' : 'MISSED'}`;
      }
      const want = g.atLeast !== undefined ? `≥ ${fmt(g.atLeast)}` : `< ${g.below}`;
      if (v === undefined) return `${want} ${GOAL_LABEL[g.metric]}: n/a`;
      const met = g.atLeast !== undefined ? v >= g.atLeast : v < g.below;
      return `${want} ${GOAL_LABEL[g.metric]}: ${met ? 'met' : 'MISSED'}`;
    })
    .join('; ');
}

/** Ratio against the baseline: throughput × for throughput groups, p50 × for latency groups (lower is better). */
function ratioText(r, base, better) {
  if (base === undefined || r.error || r.skipped || base.error || base.skipped) return '';
  if (r === base) return 'baseline';
  if (better === 'latency') return r.p50Us && base.p50Us ? `p50 ${(r.p50Us / base.p50Us).toFixed(2)}×` : '';
  const key = r.msgsPerSec !== undefined && base.msgsPerSec !== undefined ? 'msgsPerSec' : 'mbPerSec';
  return r[key] && base[key] ? `${(r[key] / base[key]).toFixed(2)}×` : '';
}

function printTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of rows.slice(1)) console.log(line(row));
}

for (const group of Object.keys(GROUPS).filter((g) => groupsRun.has(g))) {
  const { title, baseline, better } = GROUPS[group];
  const rows = results.filter((r) => r.group === group);
  const base = rows.find((r) => r.name === baseline && r.baseline);
  console.log(`\n${title} (${group}; baseline: ${baseline})`);
  printTable([
    ['scenario', 'msgs/s', 'MB/s', 'p50 µs', 'p99 µs', 'vs baseline', 'goal'],
    ...rows.map((r) =>
      r.error || r.skipped
        ? [r.name, r.error ? `failed: ${r.error}` : `skipped: ${r.skipped}`, '', '', '', '', goalText(r, rows)]
        : [
            r.name,
            fmt(r.msgsPerSec),
            fmt(r.mbPerSec),
            fmt(r.p50Us, 1),
            fmt(r.p99Us, 1),
            ratioText(r, base, better),
            goalText(r, rows),
          ],
    ),
  ]);
}

const out = value('json') ?? join(here, 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ node: process.version, cores, load, durationMs, results }, null, 2));
console.log(`\nresults: ${out}`);
if (results.some((r) => r.error)) process.exitCode = 1;
// A timed-out scenario may still hold sockets or timers; its children exit when we do (IPC closes).
if (results.some((r) => r.error)) process.exit();
