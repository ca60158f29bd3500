import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RingMismatchError } from '../../src/errors.js';
import { createTransport } from '../../src/index.js';
import type { MmfTransport } from '../../src/mmf-transport.js';
import { FutexWaitSet } from '../../src/posix/futex-wait-set.js';
import { openPosixRing, posixRingName } from '../../src/posix/posix-ring-mapping.js';
import { PosixSharedMemory } from '../../src/posix/posix-shared-memory.js';
import type { RingMapping } from '../../src/ring-mapping.js';
import { mappingSize, RingOffset } from '../../src/ring-layout.js';
import { RingReader } from '../../src/ring-reader.js';
import { SharedRing } from '../../src/shared-ring.js';
import { poolAnswers, POOL_THREADS, readersAsleep } from '../fixtures/rings-asleep.js';
// @ts-expect-error plain JavaScript fixture shared with the writer processes
import { checkRecord } from '../fixtures/record-check.mjs';

const writerScript = fileURLToPath(new URL('../fixtures/ring-writer.mjs', import.meta.url));
let n = 0;
const names: string[] = [];
const mappings: RingMapping[] = [];
const children: ChildProcess[] = [];

function uniqueName(): string {
  const name = `test-${process.pid}-${++n}`;
  names.push(name);
  return name;
}

async function open(name: string, capacity = 1 << 16): Promise<RingMapping> {
  const mapping = await openPosixRing({ name, capacity, scope: 'local', initTimeoutMs: 500 });
  mappings.push(mapping);
  return mapping;
}

function writer(
  name: string,
  capacity: number,
  id: number,
  count: number,
  mode: 'fast' | 'slow' | 'mixed',
  go = false,
): ChildProcess {
  const args = [writerScript, name, String(capacity), String(id), String(count), mode, ...(go ? ['go'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

/** The ring header's `sleepers` field: sleep announcements not withdrawn nor taken by a writer. */
function sleepers(mapping: RingMapping): number {
  return Atomics.load(new Int32Array(mapping.buffer), RingOffset.sleepers >> 2);
}

/** Poll `reader` until `until()` holds or `ms` pass, checking every record. */
async function follow(
  reader: RingReader,
  onRecord: (r: { writer: number; n: number } | undefined) => void,
  until: () => boolean,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!until() && Date.now() < deadline) {
    reader.poll((bytes) => onRecord(checkRecord(bytes) as { writer: number; n: number } | undefined), 100_000);
    await new Promise((r) => setImmediate(r));
  }
}

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(mappings.splice(0).map((m) => m.release()));
  for (const name of names.splice(0)) PosixSharedMemory.unlink(posixRingName(name, 'local'));
});

describe('POSIX shared memory ring', () => {
  it('creates the object owner-only (0600), owned by this user, under a per-user name', async () => {
    const name = uniqueName();
    await open(name);
    const path = posixRingName(name, 'local');
    expect(path).toBe(`/busway-${process.getuid!()}-${name}`);
    const shm = await PosixSharedMemory.open(path, { size: mappingSize(1 << 16) });
    try {
      const { uid, mode } = shm.permissions();
      expect(uid).toBe(process.getuid!());
      expect(mode & 0o777).toBe(0o600);
    } finally {
      shm.close();
    }
  });

  it('removes the name when the last member leaves, not before', async () => {
    const name = uniqueName();
    const path = `/dev/shm${posixRingName(name, 'local')}`;
    const { existsSync } = await import('node:fs');
    const a = await open(name);
    const shm = await PosixSharedMemory.open(posixRingName(name, 'local'), { size: mappingSize(1 << 16) });
    await a.release();
    expect(existsSync(path)).toBe(true);
    shm.close();
    expect(existsSync(path)).toBe(false);
  });

  describe('refuses a squatted name and leaves it untouched', () => {
    const stranger = async (
      size: number,
      fill: number,
      mode = 0o600,
    ): Promise<{ name: string; shm: PosixSharedMemory; before: Uint8Array }> => {
      const name = uniqueName();
      const shm = await PosixSharedMemory.open(posixRingName(name, 'local'), { size });
      new Uint8Array(shm.buffer).fill(fill);
      if (mode !== 0o600) (await import('node:fs')).chmodSync(`/dev/shm${posixRingName(name, 'local')}`, mode);
      return { name, shm, before: new Uint8Array(shm.buffer).slice() };
    };

    it('another program’s data (wrong magic)', async () => {
      const { name, shm, before } = await stranger(mappingSize(1 << 16), 0x5a);
      await expect(open(name)).rejects.toThrow(RingMismatchError);
      await expect(open(name)).rejects.toThrow(/magic/);
      expect(new Uint8Array(shm.buffer)).toEqual(before);
      shm.close(false);
    });

    it('a ring of another size', async () => {
      const name = uniqueName();
      await open(name, 1 << 16);
      await expect(open(name, 1 << 17)).rejects.toThrow(/size is 69632 bytes, expected 135168/);
    });

    it('an object other users may open (mode 0644)', async () => {
      const { name, shm } = await stranger(mappingSize(1 << 16), 0, 0o644);
      await expect(open(name)).rejects.toThrow(/mode 0644/);
      shm.close(false);
    });
  });

  describe('a creator killed before it formatted the ring does not leave the name unusable', () => {
    const internal = new URL('../../dist/internal.js', import.meta.url).href;
    /** A child process that runs `code` (with `libc`, `PosixSharedMemory` and `path` in scope), says "created", then waits to be killed. */
    const creator = (path: string, code: string): ChildProcess => {
      const script = `import { PosixSharedMemory } from ${JSON.stringify(internal)};
        import { libc, Libc } from ${JSON.stringify(new URL('../../dist/posix/libc.js', import.meta.url).href)};
        const path = ${JSON.stringify(path)};
        ${code}
        process.stdout.write('created\\n');
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const killed = async (child: ChildProcess): Promise<void> => {
      await new Promise((r) => child.stdout!.once('data', r));
      const exit = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exit;
    };
    const cases: Array<[string, string]> = [
      // PosixSharedMemory.open creates, locks and sizes; the format would come next.
      ['after sizing the object', `await PosixSharedMemory.open(path, { size: ${mappingSize(4096)} });`],
      // Killed between shm_open(O_EXCL) and ftruncate: an empty object.
      ['before sizing the object', `libc().shm_open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL, 0o600);`],
    ];
    for (const [when, code] of cases) {
      it(when, async () => {
        const name = uniqueName();
        const child = creator(posixRingName(name, 'local'), code);
        await killed(child);
        const mapping = await open(name, 4096); // old code: RingMismatchError "not initialised" / "size is 0"
        const ring = SharedRing.attach(mapping.buffer, name);
        const reader = new RingReader(ring);
        SharedRing.attach(mapping.buffer, name).publish(new Uint8Array([1, 2, 3]));
        const got: number[][] = [];
        reader.poll((bytes) => got.push([...bytes]));
        expect(got).toEqual([[1, 2, 3]]);
      });
    }

    it('a creator that is alive (holding its lock) is waited for, never taken over; once killed, it is', async () => {
      const name = uniqueName();
      const path = posixRingName(name, 'local');
      const child = creator(path, `await PosixSharedMemory.open(path, { size: ${mappingSize(4096)} });`);
      await new Promise((r) => child.stdout!.once('data', r));
      await expect(openPosixRing({ name, capacity: 4096, scope: 'local', initTimeoutMs: 100 })).rejects.toThrow(
        /not initialised within 100 ms/,
      );
      // Still the creator's object: the join did not remove it (a new one would be formatted).
      const shm = await PosixSharedMemory.open(path, { size: mappingSize(4096), initTimeoutMs: 100 });
      expect(shm.created).toBe(false);
      expect(new Int32Array(shm.buffer)[0]).toBe(0);
      shm.close(false);
      const exit = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exit;
      await expect(open(name, 4096)).resolves.toBeDefined(); // old code: "not initialised" for good
    });

    it('a joiner whose object another member took over as abandoned opens the new one, not waits on the old', async () => {
      const name = uniqueName();
      const path = posixRingName(name, 'local');
      await killed(creator(path, `await PosixSharedMemory.open(path, { size: ${mappingSize(4096)} });`));
      // Another joiner, `other`, holds the abandoned object; this one's takeover is refused meanwhile.
      const other = await PosixSharedMemory.open(path, { size: mappingSize(4096) });
      expect(other.created).toBe(false);
      const joining = openPosixRing({ name, capacity: 4096, scope: 'local', initTimeoutMs: 1000 });
      await new Promise((r) => setTimeout(r, 50));
      // Now `other` takes it over (the name is removed; it would create and format the next one).
      expect(other.takeOverIfAbandoned(() => true)).toBe(true);
      // Old code: the joiner kept polling the removed object, "not initialised within 1000 ms".
      const mapping = await joining;
      mappings.push(mapping);
      expect(new Int32Array(mapping.buffer)[4]).toBe(process.pid); // it created the new ring itself
    });

    it('two members joining an abandoned object at once both get the same new ring', async () => {
      const name = uniqueName();
      await killed(
        creator(posixRingName(name, 'local'), `await PosixSharedMemory.open(path, { size: ${mappingSize(4096)} });`),
      );
      const join = `import { openPosixRing } from ${JSON.stringify(internal)};
        const m = await openPosixRing({ name: ${JSON.stringify(name)}, capacity: 4096, scope: 'local', initTimeoutMs: 2000 });
        process.stdout.write(String(new Int32Array(m.buffer)[4]) + '\\n'); // creator pid of the ring joined
        setInterval(() => {}, 1000);`;
      const joiners = [0, 1].map(() => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', join], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        return new Promise<string>((r) => child.stdout!.once('data', (d: Buffer) => r(d.toString().trim())));
      });
      const [first, second] = await Promise.all(joiners);
      expect(Number(first)).toBeGreaterThan(0);
      expect(second).toBe(first);
    });
  });

  it('a member whose ftruncate fails removes the object it created instead of leaving it empty', async () => {
    const name = uniqueName();
    const path = posixRingName(name, 'local');
    // RLIMIT_FSIZE of 1 KiB makes ftruncate to 8 KiB fail (EFBIG); SIGXFSZ is handled so it returns.
    const script = `import { PosixSharedMemory } from ${JSON.stringify(new URL('../../dist/internal.js', import.meta.url).href)};
      process.on('SIGXFSZ', () => {});
      try { await PosixSharedMemory.open(${JSON.stringify(path)}, { size: ${mappingSize(4096)} }); console.log('opened'); }
      catch (err) { console.log(err.syscall); }`;
    const { stdout } = await import('node:child_process').then(({ execFileSync }) => ({
      stdout: execFileSync('sh', [
        '-c',
        'ulimit -f 1 && exec "$0" --input-type=module -e "$1"',
        process.execPath,
        script,
      ]).toString(),
    }));
    expect(stdout.trim()).toBe('ftruncate');
    expect(PosixSharedMemory.unlink(path)).toBe(false); // old code: true, the empty object stayed
  });

  it('delivers across processes: three writers at once, every record once, intact, in per-writer order', async () => {
    const name = uniqueName();
    // 32 MiB holds everything the three writers send, so the reader never loses, however slow.
    const capacity = 1 << 25;
    const mapping = await open(name, capacity);
    const reader = new RingReader(SharedRing.attach(mapping.buffer, name));
    const count = 3000;
    // Read from the start, not after the writers are ready: 3 x 3000 records are more than the
    // ring holds, so a reader that waited would (correctly) lose some.
    for (const id of [1, 2, 3]) writer(name, capacity, id, count, 'mixed');
    const next = new Map<number, number>();
    let torn = 0;
    let total = 0;
    await follow(
      reader,
      (record) => {
        if (record === undefined) return void torn++;
        expect(record.n).toBe(next.get(record.writer) ?? 0);
        next.set(record.writer, record.n + 1);
        total++;
      },
      () => total === 3 * count,
      20_000,
    );
    expect(torn).toBe(0);
    expect(total).toBe(3 * count);
    expect(reader.stats()).toMatchObject({ lost: 0, abandoned: 0 });
  });
});

describe('sleeping readers (futex doorbells)', () => {
  it("readers asleep on many rings share one waiter thread, so libuv's thread pool stays free for fs", async () => {
    expect(FutexWaitSet.supported()).toBe(true); // this machine's kernel is newer than 5.16
    // One more ring than the pool has threads, each with a reader asleep for up to 10 s: with a
    // futex wait of its own per ring, this stat would queue behind them for that long.
    const asleep = await readersAsleep(POOL_THREADS + 2, uniqueName, (name) => open(name), 10_000);
    expect(await poolAnswers(3000)).toBe('done');
    // Each reader is woken by its own ring's doorbell, one at a time, the others sleeping on.
    for (const [i, { ring, slept }] of asleep.entries()) {
      let woken = false;
      void slept.then(() => (woken = true));
      ring.publish(new Uint8Array([i]));
      await Promise.race([slept, new Promise((r) => setTimeout(r, 3000))]);
      expect(woken).toBe(true);
    }
  });

  it('a record committed between the recheck and the wait is rung for: the sleep returns at once', async () => {
    const name = uniqueName();
    const mapping = await open(name);
    const ring = SharedRing.attach(mapping.buffer, name);
    let wakes = 0;
    ring.onWake = (sleepers) => (wakes++, mapping.wake(sleepers));
    // The recheck finds nothing, then a writer commits before the wait begins: the classic lost
    // wake-up. The writer must see the announcement and move the doorbell, so the wait returns.
    const slept = mapping.sleep(() => (ring.publish(new Uint8Array([1])), false), 10_000);
    const started = performance.now();
    await slept;
    expect(performance.now() - started).toBeLessThan(5000);
    expect(wakes).toBe(1);
    expect(sleepers(mapping)).toBe(0);
  });

  it('a sleep ends by its timeout when nobody rings', async () => {
    const mapping = await open(uniqueName());
    const started = performance.now();
    await mapping.sleep(() => false, 200);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(2000);
  });

  it('every announcement is withdrawn once its sleep times out: writers then ring for nobody', async () => {
    const name = uniqueName();
    const mapping = await open(name);
    const ring = SharedRing.attach(mapping.buffer, name);
    let wakes = 0;
    ring.onWake = (count) => (wakes++, mapping.wake(count));
    for (let i = 0; i < 10; i++) await mapping.sleep(() => false, 10);
    expect(sleepers(mapping)).toBe(0);
    ring.publish(new Uint8Array([1]));
    expect(wakes).toBe(0); // a FUTEX_WAKE here would be a system call for a reader that is awake
  });

  it('transports of one ring in one process announce one sleep between them, and withdraw it when it ends', async () => {
    // An announcement per transport (and per timed-out sleep) used to stay in `sleepers` until a
    // writer took it, so every writer rang after a period of idleness, for nobody.
    const name = uniqueName();
    const held = await open(name); // keeps the ring mapped after the transports close
    const members = [1, 2, 3].map(
      (memberId) =>
        createTransport(new URL(`mmf://${name}?size=64KiB`), {
          memberId,
          maxFrameSize: 1 << 16,
          options: { idleCheckMs: 20 },
        }) as MmfTransport,
    );
    await Promise.all(members.map((m) => m.open()));
    await new Promise((r) => setTimeout(r, 300)); // a dozen idle timeouts each
    expect(sleepers(held)).toBeLessThanOrEqual(1); // the process's one wait in flight, if asleep now
    await Promise.all(members.map((m) => m.close()));
    // `held` keeps the mapping open, so a wait still in flight ends by its 20 ms timeout.
    await new Promise((r) => setTimeout(r, 200));
    expect(sleepers(held)).toBe(0);
    const ring = SharedRing.attach(held.buffer, name);
    let wakes = 0;
    ring.onWake = () => wakes++;
    ring.publish(new Uint8Array([1]));
    expect(wakes).toBe(0);
  });
});
