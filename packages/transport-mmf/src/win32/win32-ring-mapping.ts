/**
 * The Win32 backend: a named file mapping (`CreateFileMappingW` on the paging file) holding the
 * ring, and a named semaphore as the doorbell, both through `@busway/win32` and both created with
 * a DACL granting the current user (and SYSTEM) only. Transports of one name in one process share
 * the mapping and one `RingSleeper` (one wait in flight, one sleep announcement).
 *
 * Why a semaphore: a writer releases one unit per sleep announcement it took from the ring header
 * (`sleepers`), and each announced reader that blocks finds a unit. A reader whose announcement
 * was taken but whose wait did not consume a unit (it timed out just then, or its recheck found
 * records) takes that unit back with a zero-timeout wait, so units do not pile up and end later
 * sleeps for nothing (`sleep-protocol.ts`). An auto-reset event would wake only one process; a
 * manual-reset one needs a reset that races with late sleepers.
 *
 * @module
 */
import {
  createFileMapping,
  createSemaphore,
  mapView,
  type MappedView,
  releaseSemaphore,
  sharedHandleWaiter,
  waitForSingleObject,
  type Win32Handle,
} from '@busway/win32';
import { loadKoffi } from '@busway/win32/internal';
import { RingMismatchError, SharedMemoryError } from '../errors.js';
import type { RingMapping, RingMappingRequest } from '../ring-mapping.js';
import { RefCountedOpenings } from '../ref-counted-openings.js';
import { mappingSize, RingOffset } from '../ring-layout.js';
import { SharedRing } from '../shared-ring.js';
import { RingSleeper } from '../sleep-protocol.js';

interface Shared {
  readonly mapping: Win32Handle;
  readonly view: MappedView;
  readonly bell: Win32Handle;
  readonly sleeper: RingSleeper;
}

const mappings = new RefCountedOpenings<Shared>();

/**
 * The kernel object name of a ring: `Local\busway-mmf-<name>` (per session, the default) or
 * `Global\busway-mmf-<name>` (needs SeCreateGlobalPrivilege to create).
 *
 * @example
 * ```ts
 * win32RingName('orders', 'local'); // "Local\\busway-mmf-orders"
 * ```
 */
export function win32RingName(name: string, scope: 'local' | 'global'): string {
  return `${scope === 'global' ? 'Global' : 'Local'}\\busway-mmf-${name}`;
}

let switchToThreadFn: (() => unknown) | undefined;

/** `SwitchToThread`, bound on first use: what a spinning reader yields with (`sched_yield` on Linux). */
function switchToThread(): () => unknown {
  switchToThreadFn ??= loadKoffi().load('kernel32.dll').func('int __stdcall SwitchToThread()') as () => unknown;
  return switchToThreadFn;
}

/**
 * Open (or create and format) the ring `request.name` for this process.
 *
 * @example
 * ```ts
 * const mapping = await openWin32Ring({ name: 'orders', capacity: 1 << 24, scope: 'local', initTimeoutMs: 2000 });
 * ```
 */
export async function openWin32Ring(request: RingMappingRequest): Promise<RingMapping> {
  const objectName = win32RingName(request.name, request.scope);
  const reference = await mappings.acquire(`${objectName}:${request.capacity}`, () => create(objectName, request));
  const shared = reference.value;
  return {
    buffer: shared.view.buffer,
    sleep: (hasWork, timeoutMs) => shared.sleeper.sleep(hasWork, timeoutMs),
    wake: (sleepers) => void releaseSemaphore(shared.bell, Math.max(1, sleepers)),
    yieldCpu: () => void switchToThread()(),
    release: async () => {
      if (!reference.release()) return;
      // Our own wait returns on a unit we release; the sleeper takes back what it did not consume.
      await shared.sleeper.close(() => (releaseSemaphore(shared.bell, 1), 1));
      shared.view.unmap();
      shared.mapping.close();
      shared.bell.close();
    },
  };
}

async function create(objectName: string, request: RingMappingRequest): Promise<Shared> {
  const size = mappingSize(request.capacity);
  let created;
  try {
    created = createFileMapping(objectName, size);
  } catch (err) {
    if (request.scope === 'global' && (err as { errno?: number }).errno === 5) {
      throw new SharedMemoryError(
        'CreateFileMappingW',
        5,
        `${objectName}: creating a Global\\ object needs SeCreateGlobalPrivilege (run elevated or as a service), or use scope=local`,
        { cause: err },
      );
    }
    throw err;
  }
  const { handle, existed } = created;
  let view: MappedView | undefined;
  try {
    // A smaller existing mapping of that name cannot be mapped at our size (MapViewOfFile fails);
    // a larger one is caught by attach() comparing the header's capacity with our size.
    try {
      view = mapView(handle, size);
    } catch (err) {
      if (!existed) throw err;
      throw new RingMismatchError(
        objectName,
        `the existing mapping cannot be mapped at ${size} bytes (smaller, or not ours)`,
        { cause: err },
      );
    }
    if (!existed) SharedRing.format(view.buffer);
    else await initialised(view.buffer, objectName, request.initTimeoutMs);
    SharedRing.attach(view.buffer, objectName); // magic, version, sizes: before anyone writes
    const bell = createSemaphore({ name: `${objectName}-bell`, initialCount: 0 });
    const sleeper = new RingSleeper(view.buffer, {
      // The process's shared waiter waits for every ring (and pipe hub) at once on one pool
      // thread: a wait of its own per ring would take one of libuv's four for each idle ring.
      wait: async (_generation, timeoutMs) =>
        (await sharedHandleWaiter().wait(bell, { timeoutMs: Math.ceil(timeoutMs) })) === 'timeout' ? 0 : 1,
      // Not blocking: a unit released for us is there already, unless its writer is between
      // taking the announcement and releasing (then it ends one later sleep early, once).
      takeBack: (count) => {
        for (let i = 0; i < count && waitForSingleObject(bell, 0) === 'signaled'; i++);
      },
    });
    return { mapping: handle, view, bell, sleeper };
  } catch (err) {
    view?.unmap();
    handle.close();
    throw err;
  }
}

async function initialised(buffer: ArrayBuffer, name: string, timeoutMs: number): Promise<void> {
  const magic = new Int32Array(buffer, RingOffset.magic, 1);
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(magic, 0) === 0) {
    if (Date.now() > deadline)
      throw new RingMismatchError(
        name,
        `not initialised within ${timeoutMs} ms (its creator died, or it is not a busway ring)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
