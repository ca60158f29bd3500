import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** A name no other test run (or parallel suite) uses. */
export function uniqueName(prefix: string): string {
  return `busway-test-${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Run `fixtures/win32-peer.mjs` in a second Windows node process and resolve with its exit code.
 * stdio is ignored: under Wine node.exe fails with EBADF on pipes, so the peer reports through
 * its exit code and the shared objects themselves.
 */
export function runPeer(...args: string[]): Promise<number> {
  const script = fileURLToPath(new URL('./fixtures/win32-peer.mjs', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`peer ${args.join(' ')} did not finish within 30 s`));
    }, 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}
