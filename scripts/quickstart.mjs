#!/usr/bin/env node
/**
 * The README's two commands, for a machine that has only Node.js and npm:
 *
 *   npm start   installs the workspace (with pnpm, fetched through npx when missing), builds it,
 *               and runs the demo;
 *   npm test    installs and builds the same way, runs every test suite, and the Win32 suites
 *               under Wine when Wine can be had (see scripts/win32/run-tests.mjs).
 *
 * Set BUSWAY_REQUIRE_WIN32=1 (CI does) to make missing Wine a failure instead of a notice.
 * Plain Node.js on purpose: it runs before anything is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pnpmVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
const isWindows = process.platform === 'win32';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: isWindows, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(command, args, what) {
  const status = run(command, args);
  if (status !== 0) {
    console.error(`\nbusway: ${what} failed (exit ${status}).`);
    process.exit(status);
  }
}

/** Run a command, echoing its standard output as it comes and keeping it for the caller. */
function runTeed(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['inherit', 'pipe', 'inherit'], shell: isWindows });
    let output = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status: status ?? 1, output }));
  });
}

/** pnpm itself when it is on PATH at the pinned version, else the pinned pnpm through npx. */
function pnpm() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell: isWindows });
  if (probe.status === 0 && probe.stdout.trim() === pnpmVersion) return ['pnpm', []];
  return ['npx', ['--yes', `pnpm@${pnpmVersion}`]];
}

function installAndBuild() {
  const [cmd, pre] = pnpm();
  // --frozen-lockfile: what runs is exactly what the lockfile pins, on every machine.
  must(cmd, [...pre, 'install', '--frozen-lockfile'], 'installing dependencies');
  must(cmd, [...pre, 'run', 'build'], 'building the packages');
  return [cmd, pre];
}

const task = process.argv[2];
if (task === 'install') {
  installAndBuild();
} else if (task === 'demo') {
  installAndBuild();
  must(process.execPath, [join(root, 'examples/demo/run.mjs')], 'the demo');
} else if (task === 'test') {
  const [cmd, pre] = installAndBuild();
  // vitest's JSON report gives the counts for the closing summary line.
  const resultsDir = join(root, '.cache', 'test-results');
  mkdirSync(resultsDir, { recursive: true });
  const mainReport = join(resultsDir, 'main.json');
  const linux = run(cmd, [
    ...pre,
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${mainReport}`,
  ]);
  const counts = { passed: 0, failed: 0 };
  try {
    const report = JSON.parse(readFileSync(mainReport, 'utf8'));
    counts.passed += report.numPassedTests;
    counts.failed += report.numFailedTests + (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  } catch {
    counts.failed += 1; // no report: vitest itself failed
  }
  const win32Script = join(root, 'scripts/win32/run-tests.mjs');
  let win32 = 0;
  if (existsSync(win32Script)) {
    const required = process.env.BUSWAY_REQUIRE_WIN32 === '1';
    const { status, output } = await runTeed(process.execPath, [win32Script, ...(required ? [] : ['--if-available'])]);
    win32 = status;
    const line = /Win32: (\d+) passed, (\d+) failed/.exec(output);
    if (line !== null) {
      counts.passed += Number(line[1]);
      counts.failed += Number(line[2]);
    } else if (status !== 0) {
      counts.failed += 1;
    }
  } else {
    console.log('\nbusway: no Win32 suites in this checkout.');
  }
  const ok = linux === 0 && win32 === 0;
  console.log(
    `\nbusway: ${ok ? 'all test suites passed' : `tests FAILED (main suites exit ${linux}, Win32 suites exit ${win32})`}.`,
  );
  console.log(`Total: ${counts.passed} passed, ${counts.failed} failed`);
  process.exit(ok ? 0 : 1);
} else {
  console.error('usage: node scripts/quickstart.mjs install|demo|test');
  process.exit(2);
}
