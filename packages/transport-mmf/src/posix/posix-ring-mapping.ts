/**
 * The Linux backend: a `PosixSharedMemory` object holding the ring, formatted by its creator, and
 * a `FutexDoorbell` on the ring's doorbell word. Transports of one name in one process share the
 * mapping, and one `RingSleeper` (one wait in flight, one sleep announcement).
 *
 * @module
 */
import { RingMismatchError } from '../errors.js';
import type { RingMapping, RingMappingRequest } from '../ring-mapping.js';
import { RefCountedOpenings } from '../ref-counted-openings.js';
import { mappingSize, RING_HEADER_SIZE, RING_MAGIC, RING_VERSION, RingOffset } from '../ring-layout.js';
import { SharedRing } from '../shared-ring.js';
import { RingSleeper } from '../sleep-protocol.js';
import { FutexDoorbell } from './futex-doorbell.js';
import { libc } from './libc.js';
import { PosixSharedMemory } from './posix-shared-memory.js';

interface Shared {
  readonly shm: PosixSharedMemory;
  readonly bell: FutexDoorbell;
  readonly sleeper: RingSleeper;
}

const mappings = new RefCountedOpenings<Shared>();

/**
 * The shm name of a ring: `Local` rings carry the user id, so two users' rings of the same bus
 * name never meet; `Global` ones do not (and are still created 0600).
 *
 * @example
 * ```ts
 * posixRingName('orders', 'local'); // "/busway-1000-orders"
 * ```
 */
export function posixRingName(name: string, scope: 'local' | 'global'): string {
  return scope === 'global' ? `/busway-global-${name}` : `/busway-${libc().getuid() as number}-${name}`;
}

/**
 * Open (or create and format) the ring `request.name` for this process.
 *
 * @example
 * ```ts
 * const mapping = await openPosixRing({ name: 'orders', capacity: 1 << 24, scope: 'local', initTimeoutMs: 2000 });
 * ```
 */
export async function openPosixRing(request: RingMappingRequest): Promise<RingMapping> {
  const path = posixRingName(request.name, request.scope);
  const reference = await mappings.acquire(`${path}:${request.capacity}`, () => create(path, request));
  const shared = reference.value;
  return {
    buffer: shared.shm.buffer,
    sleep: (hasWork, timeoutMs) => shared.sleeper.sleep(hasWork, timeoutMs),
    wake: () => shared.bell.wake(), // a futex wake reaches every sleeper whatever the count
    yieldCpu: () => void libc().sched_yield(),
    release: async () => {
      if (!reference.release()) return;
      // Withdraw this process's announcement before unmapping, or writers would go on ringing
      // for a reader that is gone.
      await shared.sleeper.close(() => (shared.bell.wake(), 0));
      await shared.bell.drain();
      shared.shm.close();
    },
  };
}

async function create(path: string, request: RingMappingRequest): Promise<Shared> {
  const shm = await openMember(path, request);
  try {
    if (shm.created) SharedRing.format(shm.buffer);
    else await initialised(shm.buffer, path, request.initTimeoutMs);
    SharedRing.attach(shm.buffer, path); // validates magic, version, sizes before anyone writes
    const bell = new FutexDoorbell(shm.address, RingOffset.doorbell);
    // Futex wakes do not accumulate: there are no units to take back.
    const sleeper = new RingSleeper(shm.buffer, { wait: (generation, ms) => bell.sleep(generation, ms).then(() => 0) });
    return { shm, bell, sleeper };
  } catch (err) {
    // Not a busway ring (or not yet one): leave the name to whoever owns it.
    shm.close(shm.created);
    throw err;
  }
}

/**
 * Open the ring's object: one this process created (and must format), or an existing one whose
 * creator stored the magic. The creator stores it last; an all-zero header means it is still
 * formatting, or that it died before it finished. A live creator holds its lock on the object
 * throughout, so an unformatted object that no other member holds is abandoned: it is removed and
 * created again, instead of failing every later join until someone unlinks it by hand.
 */
async function openMember(path: string, request: RingMappingRequest): Promise<PosixSharedMemory> {
  const deadline = Date.now() + request.initTimeoutMs;
  for (;;) {
    const shm = await PosixSharedMemory.open(path, {
      size: mappingSize(request.capacity),
      initTimeoutMs: Math.max(0, deadline - Date.now()),
    });
    if (shm.created) return shm;
    try {
      if (await formatted(shm, path, request.initTimeoutMs, deadline)) return shm;
    } catch (err) {
      shm.close(false); // not a busway ring (or not yet one): leave the name to whoever owns it
      throw err;
    }
  }
}

/**
 * Wait for the magic; false when the object was removed meanwhile (taken over as abandoned, or by
 * a leaver), and this mapping closed: open the name again.
 */
async function formatted(shm: PosixSharedMemory, path: string, timeoutMs: number, deadline: number): Promise<boolean> {
  const header = new Int32Array(shm.buffer, 0, 4);
  const capacity = shm.buffer.byteLength - RING_HEADER_SIZE;
  // What a busway creator leaves when it dies before storing the magic: zeros, or the first
  // fields of the header it was writing. Anything else is a stranger's data, never removed.
  const unformatted = (): boolean =>
    Atomics.load(header, 0) === 0 &&
    [0, RING_VERSION].includes(header[RingOffset.version >> 2] ?? -1) &&
    [0, capacity].includes(header[RingOffset.capacity >> 2] ?? -1) &&
    [0, RING_HEADER_SIZE].includes(header[RingOffset.headerSize >> 2] ?? -1);
  while (Atomics.load(header, 0) === 0) {
    if (unformatted() && shm.takeOverIfAbandoned(unformatted)) return false;
    if (shm.isUnlinked()) {
      // Another joiner took it over first (our own attempt, refused, let it): it creates and
      // formats a new object under the name, and this one stays zero for good.
      shm.close(false);
      return false;
    }
    if (Date.now() > deadline)
      throw new RingMismatchError(
        path,
        `not initialised within ${timeoutMs} ms (its creator is still formatting it, or it is not a busway ring)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!shm.relock()) {
    shm.close(false); // being removed under us (a leaver, or a member that took it over): start over
    return false;
  }
  return true; // attach() then checks the magic and the rest
}

/** The creator stores the magic last; an all-zero header means it is still formatting. */
async function initialised(buffer: ArrayBuffer, path: string, timeoutMs: number): Promise<void> {
  const magic = new Int32Array(buffer, 0, 1);
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(magic, 0) === 0) {
    if (Date.now() > deadline)
      throw new RingMismatchError(
        path,
        `not initialised within ${timeoutMs} ms (its creator died, or it is not a busway ring)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (Atomics.load(magic, 0) >>> 0 !== RING_MAGIC) return; // attach() reports the mismatch
}
