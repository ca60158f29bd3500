import { execFileSync, type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPosixRing, posixRingName } from '../../src/posix/posix-ring-mapping.js';
import { PosixSharedMemory } from '../../src/posix/posix-shared-memory.js';
import { RingReader } from '../../src/ring-reader.js';
import { SharedRing } from '../../src/shared-ring.js';
// @ts-expect-error plain JavaScript fixture shared with the writer processes
import { checkRecord, makeRecord } from '../fixtures/record-check.mjs';

type Record_ = { writer: number; n: number } | undefined;
const check = checkRecord as (bytes: Uint8Array) => Record_;
const make = makeRecord as (writer: number, n: number, extra: number) => Uint8Array;

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
let work = '';
let cWriter = '';

beforeAll(() => {
  // The C writer follows docs/mmf-ring.md; it starts in a millisecond, so hundreds of kills fit
  // in seconds. The Node.js writer (this package's SharedRing) is killed too, fewer times: each
  // Node.js start costs a few hundred milliseconds.
  work = mkdtempSync(join(tmpdir(), 'busway-mmf-'));
  cWriter = join(work, 'ring-writer');
  execFileSync('gcc', ['-O2', '-o', cWriter, join(fixtures, 'ring-writer.c')]);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Writer {
  readonly id: number;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
}

function start(command: string, args: string[], id: number): Writer {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit').then(([code, signal]) => {
    throw new Error(`writer ${id} exited (${String(code)}, ${String(signal)}) before it was ready`);
  });
  const ready = Promise.race([once(child.stdout!, 'data'), exited]).then(() => undefined);
  ready.catch(() => undefined);
  return { id, child, ready };
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('writers killed with SIGKILL at random points', () => {
  it('never make a reader deliver a torn record; the ring recovers each time and a live member goes on', async () => {
    const name = `kill-${process.pid}`;
    const capacity = 1 << 20;
    const mapping = await openPosixRing({ name, capacity, scope: 'local', initTimeoutMs: 2000 });
    const children: ChildProcess[] = [];
    try {
      const reader = new RingReader(SharedRing.attach(mapping.buffer, name), { abandonAfterMs: 50 });
      const survivor = SharedRing.attach(mapping.buffer, name);
      let torn = 0;
      let markers = 0;
      const seen = new Set<number>();
      const poll = (): void => {
        reader.poll((bytes) => {
          const record = check(bytes);
          if (record === undefined) torn++;
          else if (record.writer === 0) markers++;
          else seen.add(record.writer);
        }, 1_000_000);
      };
      const follow = async (until: () => boolean, ms: number): Promise<void> => {
        const deadline = performance.now() + ms;
        do {
          poll();
          await new Promise((r) => setImmediate(r));
        } while (!until() && performance.now() < deadline);
      };

      const path = posixRingName(name, 'local');
      const plan: Array<() => Writer> = [];
      for (let i = 0; i < 200; i++) {
        const id = 1000 + i;
        plan.push(() => start(cWriter, [path, String(capacity), String(id), i % 3 === 0 ? 'fast' : 'slow'], id));
      }
      for (let i = 0; i < 20; i++) {
        const id = 5000 + i;
        plan.push(() =>
          start(
            process.execPath,
            [
              join(fixtures, 'ring-writer.mjs'),
              name,
              String(capacity),
              String(id),
              '1000000',
              i % 2 ? 'slow' : 'fast',
              'go',
            ],
            id,
          ),
        );
      }
      const began = performance.now();
      // Start a few ahead (process start-up dominates), let each loose, and kill it 0-3 ms after
      // its first record arrived, while it writes flat out.
      const pool = plan.splice(0, 4).map((make) => make());
      let kills = 0;
      while (pool.length > 0) {
        const writer = pool.shift()!;
        const next = plan.shift();
        if (next !== undefined) pool.push(next());
        children.push(writer.child);
        await writer.ready;
        writer.child.stdin!.write('go\n');
        await follow(() => seen.has(writer.id), 10_000);
        expect(seen.has(writer.id)).toBe(true);
        await follow(() => false, Math.random() * 3);
        await kill9(writer.child);
        kills++;
      }
      expect(kills).toBe(220);
      // Whether a random kill lands between claim and commit is chance (a few of the 220 do, none
      // in an unlucky run), and later writers may overwrite such a claim before the reader gets to
      // it. So, last, one writer is killed for certain inside its claim: it stops half way through
      // a record and says so. Nothing is written after it but the survivor's markers, which the
      // reader can deliver only once it has given that claim up after abandonAfterMs.
      const stalled = start(cWriter, [path, String(capacity), '9000', 'stall'], 9000);
      children.push(stalled.child);
      await stalled.ready;
      let said = '';
      stalled.child.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString()));
      stalled.child.stdin!.write('go\n');
      await follow(() => said.includes('stalled'), 10_000);
      expect(said).toContain('stalled');
      await kill9(stalled.child);
      for (let i = 0; i < 10; i++) survivor.publish(make(0, i, 100));
      await follow(() => markers === 10, 5_000);
      const elapsed = performance.now() - began;
      const stats = reader.stats();
      console.log(`221 SIGKILLs in ${Math.round(elapsed)} ms; reader: ${JSON.stringify(stats)}`);
      expect(torn).toBe(0);
      expect(markers).toBe(10);
      expect(stats.abandoned).toBeGreaterThan(0); // at least the stalled writer's claim
      expect(elapsed).toBeLessThan(150_000);
    } finally {
      await Promise.all(children.map(kill9));
      await mapping.release();
      PosixSharedMemory.unlink(posixRingName(name, 'local'));
    }
  }, 180_000);
});
