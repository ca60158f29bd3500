/**
 * Builds the plain Win32 C programs of test/fixtures with mingw-w64, at test time, into a fresh
 * temporary directory, and runs them.
 *
 * These tests run inside the Windows node.exe (under Wine on Linux). A Windows process cannot
 * spawn the Linux cross compiler directly, but Wine's `start.exe /unix` can; it returns before
 * the program ends, so the shell writes a status file when the compiler is done and we wait for
 * it. On real Windows, a MinGW `gcc` on the PATH is used.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const WINE_GCC = 'Z:\\usr\\bin\\x86_64-w64-mingw32-gcc';

const toUnix = (path: string): string => path.replace(/^[Zz]:/, '').replace(/\\/g, '/');

async function waitForFile(path: string, timeoutMs: number, what: string): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.trim() !== '') return text.trim();
    }
    if (Date.now() > deadline) throw new Error(`${what} did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Compile `test/fixtures/<name>.c` for each name; resolves with the .exe paths by name. */
export async function buildFixtures(names: readonly string[]): Promise<Record<string, string>> {
  const wine = existsSync(WINE_GCC);
  const dir = mkdtempSync(
    wine ? 'Z:\\tmp\\bw-mailslot-fixtures-' : join(process.env.TEMP ?? '.', 'bw-mailslot-fixtures-'),
  );
  const exes: Record<string, string> = {};
  for (const name of names) {
    const source = join(SOURCES, `${name}.c`);
    const exe = join(dir, `${name}.exe`);
    if (wine) {
      const status = join(dir, `${name}.status`);
      const log = join(dir, `${name}.log`);
      const command = `${toUnix(WINE_GCC)} -municode -O2 -Wall -o '${toUnix(exe)}' '${toUnix(source)}' >'${toUnix(log)}' 2>&1; echo $? >'${toUnix(status)}'`;
      spawnSync('start.exe', ['/unix', '/bin/sh', '-c', command]);
      const code = await waitForFile(status, 60_000, `mingw-w64 building ${name}`);
      if (code !== '0') throw new Error(`mingw-w64 could not build ${name}: ${readFileSync(log, 'utf8')}`);
    } else {
      const result = spawnSync('gcc', ['-municode', '-O2', '-Wall', '-o', exe, source], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`gcc could not build ${name}: ${result.stderr}`);
    }
    exes[name] = exe;
  }
  return exes;
}

/** Run a built program; resolves with its exit code (stdio ignored: see the runner's notes). */
export function run(exe: string, args: readonly string[], timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: 'ignore' });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${exe} ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}
