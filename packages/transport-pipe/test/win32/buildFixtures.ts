/**
 * Builds the C fixtures (test/fixtures/*.c) with Debian's mingw-w64 cross compiler into a fresh
 * temporary directory, at test time.
 *
 * Under Wine the tests run in the Windows node.exe, which cannot spawn a Linux program directly
 * (libuv looks for a Windows executable); Wine's `start /unix` can, but returns before the program
 * ends. So the compiler runs through `/bin/sh`, which writes a marker file once it is done, and we
 * wait for the marker. On real Windows a `gcc` from MinGW on the PATH is used instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const CROSS_GCC = 'Z:\\usr\\bin\\x86_64-w64-mingw32-gcc';

/** Under Wine, a Windows path on drive Z: is the Linux path without the drive. */
function unixPath(windowsPath: string): string {
  return windowsPath.replace(/^Z:/i, '').replace(/\\/g, '/');
}

/** The built executables, by fixture name (`pipe-client`, `pipe-server`). */
export async function buildFixtures(names: readonly string[], timeoutMs = 60_000): Promise<Record<string, string>> {
  const underWine = existsSync(CROSS_GCC);
  const out = mkdtempSync(
    underWine ? 'Z:\\tmp\\bw-pipe-fixtures-' : join(process.env['TEMP'] ?? '.', 'bw-pipe-fixtures-'),
  );
  const built: Record<string, string> = {};
  for (const name of names) {
    const source = join(FIXTURES, `${name}.c`);
    const exe = join(out, `${name}.exe`);
    if (underWine) {
      const marker = join(out, `${name}.done`);
      const log = join(out, `${name}.log`);
      const script = `/usr/bin/x86_64-w64-mingw32-gcc -municode -O2 -Wall -o '${unixPath(exe)}' '${unixPath(source)}' >'${unixPath(log)}' 2>&1; echo $? >'${unixPath(marker)}'`;
      spawnSync('start.exe', ['/unix', '/bin/sh', '-c', script]);
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(marker) || readFileSync(marker, 'utf8').trim() === '') {
        if (Date.now() > deadline)
          throw new Error(`building ${name} with mingw-w64 did not finish within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const status = readFileSync(marker, 'utf8').trim();
      if (status !== '0')
        throw new Error(`mingw-w64 failed to build ${name} (${status}): ${readFileSync(log, 'utf8')}`);
    } else {
      const result = spawnSync('gcc', ['-municode', '-O2', '-o', exe, source], { encoding: 'utf8' });
      if (result.status !== 0)
        throw new Error(`gcc failed to build ${name}: ${result.error?.message ?? result.stderr}`);
    }
    built[name] = exe;
  }
  return built;
}
