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
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
  const linux = run(cmd, [...pre, 'exec', 'vitest', 'run']);
  const win32Script = join(root, 'scripts/win32/run-tests.mjs');
  let win32 = 0;
  if (existsSync(win32Script)) {
    const required = process.env.BUSWAY_REQUIRE_WIN32 === '1';
    win32 = run(process.execPath, [win32Script, ...(required ? [] : ['--if-available'])]);
  } else {
    console.log('\nbusway: no Win32 suites in this checkout.');
  }
  if (linux !== 0 || win32 !== 0) {
    console.error(`\nbusway: tests failed (main suites exit ${linux}, Win32 suites exit ${win32}).`);
    process.exit(1);
  }
  console.log('\nbusway: all test suites passed.');
} else {
  console.error('usage: node scripts/quickstart.mjs install|demo|test');
  process.exit(2);
}
