import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { preloadSocketTransport } from './preload-socket.js';

/** A bus member in another OS process (fixtures/member.mjs), optionally run through a prefix command. */
export interface MemberProcess {
  readonly child: ChildProcess;
  /** Resolves once the member printed `ready`. */
  readonly ready: Promise<void>;
  /** Lines it printed so far. */
  readonly lines: string[];
}

/**
 * Start fixtures/member.mjs on `url`. `prefix` runs it inside something, for example
 * `['ip', 'netns', 'exec', 'ns1']`. Rejects `ready` if it exits first or takes over `ms`.
 */
export function startMember(
  url: string,
  options: Record<string, unknown> = {},
  prefix: string[] = [],
  ms = 15_000,
): MemberProcess {
  preloadSocketTransport();
  const script = fileURLToPath(new URL('./fixtures/member.mjs', import.meta.url));
  const argv = [...prefix, process.execPath, script, url, JSON.stringify(options)];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`member did not start within ${ms} ms: ${stderr}`)), ms);
    child.stdout?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        lines.push(line);
        if (line.startsWith('ready')) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`member exited with ${code}: ${stderr}`));
    });
  });
  ready.catch(() => undefined);
  return { child, ready, lines };
}
