/**
 * `mmf://name?size=16MiB`: every member maps the same broadcast ring. Any member publishes by
 * writing a record in place; every member reads every record except its own. No hub process.
 *
 * @module
 */
import { BufferFullError, ClosedError, FrameTooLargeError } from '@busway/core';
import { ENVELOPE_HEADER_SIZE, ENVELOPE_MAGIC, FrameFlags, HotStream } from '@busway/core/internal';
import type {
  ConnectionState,
  FrameWriter,
  InboundFrame,
  Transport,
  TransportCapabilities,
  TransportContext,
} from '@busway/core';
import { BehaviorSubject, type Observable } from 'rxjs';
import { RingMismatchError } from './errors.js';
import { resolveMmfOptions, type ResolvedMmfOptions } from './mmf-options.js';
import { RingReader } from './ring-reader.js';
import type { RingMapping, RingMappingRequest } from './ring-mapping.js';
import { maxPayloadFor, SharedRing } from './shared-ring.js';

/** Records a reader delivers before yielding to the event loop. */
const POLL_BUDGET = 4096;
/** How long a reader re-polls with `setImmediate` while a writer is mid-write, before backing off to 1 ms timers. */
const SPIN_MS = 2;

/**
 * Whether `frame` is one fragment of a larger message (core's envelope flag). Losing one fragment
 * loses the whole message, and core sends the fragments back to back, so in a ring smaller than
 * the message a lossy writer would lap every reader: fragments wait for readers instead.
 */
function isFragment(frame: Uint8Array): boolean {
  return (
    frame.length >= ENVELOPE_HEADER_SIZE &&
    frame[0] === ENVELOPE_MAGIC >>> 8 &&
    frame[1] === (ENVELOPE_MAGIC & 0xff) &&
    ((frame[4] ?? 0) & FrameFlags.Fragment) !== 0
  );
}

/** Whether process `pid` still exists (signal 0 checks without signalling; EPERM means it does). */
function isAlive(pid: number): boolean {
  if (pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Open the platform's ring mapping: futex-backed shm on Linux, a named file mapping and semaphore
 * on Win32. Imported lazily so that neither platform loads the other's bindings.
 */
async function openMapping(request: RingMappingRequest): Promise<RingMapping> {
  if (process.platform === 'win32') {
    const { openWin32Ring } = await import('./win32/win32-ring-mapping.js');
    return openWin32Ring(request);
  }
  const { openPosixRing } = await import('./posix/posix-ring-mapping.js');
  return openPosixRing(request);
}

/**
 * A member's link into an `mmf://` bus.
 *
 * @example
 * ```ts
 * const transport = new MmfTransport(new URL('mmf://orders?size=1MiB'), { memberId: 1, maxFrameSize: 1 << 24, options: {} });
 * await transport.open();
 * transport.frames$.subscribe(({ bytes }) => console.log(bytes.length));
 * transport.send(frame);
 * ```
 */
export class MmfTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  readonly #frames = new HotStream<InboundFrame>();
  readonly frames$: Observable<InboundFrame> = this.#frames.observable;
  readonly #state = new BehaviorSubject<ConnectionState>('connecting');
  readonly state$ = this.#state.asObservable();
  readonly #options: ResolvedMmfOptions;
  #mapping: RingMapping | undefined;
  #ring: SharedRing | undefined;
  #reader: RingReader | undefined;
  #opening: Promise<void> | undefined;
  #closed = false;
  /** Set when reading failed for good (a corrupt ring): frames$ errored, polling stopped. */
  #broken = false;
  #pendingSince = -1;
  /** Claim cursor just after this member's last fragment while a reader may not have read it, or -1. */
  #fragmentsEnd = -1;
  /** With overflow=wait: the last send still waiting for room, so later ones queue behind it. */
  #waiting: Promise<void> | undefined;
  /**
   * Until when (performance.now() ms) the reader keeps polling instead of sleeping: `spinMs` past
   * the last record it read or the last frame this member sent (a reply usually follows a send).
   */
  #activeUntil = 0;
  /** Polls in a row that found nothing, within the spin window. */
  #emptyPolls = 0;
  /** A frame was sent since the reader last polled: extend the spin window. */
  #sent = false;
  /** The reader waits on the doorbell (a wait is in flight); a send may take it over by polling. */
  #sleeping = false;
  /** A poll is scheduled (setImmediate or timer): at most one chain of polls runs. */
  #scheduled = false;
  readonly #deliver = (bytes: Uint8Array): void => this.#frames.next({ bytes });
  readonly #pump = (): void => {
    this.#scheduled = false;
    this.#poll();
  };
  /** Counts sleeps, so that a wait that returns after a send took the reader out of it is ignored. */
  #sleeps = 0;
  /** The recheck a sleep makes after announcing itself; a closed transport has nothing to wait for. */
  readonly #hasWork = (): boolean => this.#reader?.hasWork() ?? true;

  constructor(url: URL, context: TransportContext) {
    this.#options = resolveMmfOptions(url, context.options);
    this.capabilities = {
      // A reader more than a ring behind loses records (and counts them): not reliable.
      reliable: false,
      ordered: true,
      maxFrameSize: Math.min(context.maxFrameSize, maxPayloadFor(this.#options.capacity)),
      broadcast: 'native',
      knowsResponders: false,
    };
  }

  /** The resolved options (name, capacity, scope, timeouts). */
  get options(): ResolvedMmfOptions {
    return this.#options;
  }

  open(): Promise<void> {
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    if (this.#closed) throw new ClosedError('the mmf transport is closed');
    const o = this.#options;
    const mapping = await openMapping({
      name: o.name,
      capacity: o.capacity,
      scope: o.scope,
      initTimeoutMs: o.initTimeoutMs,
    });
    if (this.#closed) {
      await mapping.release();
      throw new ClosedError('the mmf transport was closed while opening');
    }
    const ring = SharedRing.attach(mapping.buffer, o.name);
    ring.onWake = (sleepers) => mapping.wake(sleepers);
    this.#mapping = mapping;
    this.#ring = ring;
    // Every member registers its reader, so that members publishing with overflow=wait wait for it.
    this.#reader = new RingReader(ring, {
      skipWriterTag: ring.writerTag,
      abandonAfterMs: o.abandonAfterMs,
      register: true,
    });
    this.#state.next('open');
    this.#schedule();
  }

  send(frame: Uint8Array): void | Promise<void> {
    const ring = this.#ringFor(frame.length);
    const fragment = isFragment(frame);
    const bounded = this.#bounded(ring, fragment);
    if (this.#waiting === undefined) {
      if (!bounded) {
        ring.publish(frame);
        return;
      }
      if (this.#tryPublish(ring, frame, fragment)) return;
    }
    // Frames queued behind a waiting one keep their order (the transport is ordered).
    const attempt = (this.#waiting ?? Promise.resolve()).then(() => this.#publishWhenRoom(frame, bounded, fragment));
    const tail = attempt.then(
      () => undefined,
      () => undefined,
    );
    this.#waiting = tail;
    void tail.then(() => {
      if (this.#waiting === tail) this.#waiting = undefined;
    });
    return attempt;
  }

  /**
   * {@link send} for a whole frame the bus writes straight into the ring (no frame allocated,
   * nothing copied). When the frame cannot go in at once (it must wait for room, or queue behind
   * one that does), it is written into bytes of its own and sent as {@link send} would.
   *
   * @example
   * ```ts
   * transport.sendInPlace(frame.length, { writeFrame: (target, at) => target.set(frame, at) });
   * ```
   */
  sendInPlace(length: number, writer: FrameWriter): void | Promise<void> {
    const ring = this.#ringFor(length);
    if (this.#waiting === undefined) {
      if (!this.#bounded(ring, false)) {
        ring.publishWith(length, writer);
        return;
      }
      if (ring.tryPublishWith(length, writer) >= 0) return;
    }
    const frame = new Uint8Array(length);
    writer.writeFrame(frame, 0);
    return this.send(frame);
  }

  /** The ring, for a frame of `length` bytes about to be sent: refuses after close and over the limit. */
  #ringFor(length: number): SharedRing {
    const ring = this.#ring;
    if (ring === undefined || this.#closed) throw new ClosedError('the mmf transport is not open');
    if (length > this.capabilities.maxFrameSize) throw new FrameTooLargeError(length, this.capabilities.maxFrameSize);
    if (this.#options.spinMs > 0) this.#awaitReply();
    return ring;
  }

  /**
   * Whether a frame must not overwrite what a registered reader has not read: in overflow=wait,
   * fragments in any mode, and other frames while a reader is still reading this member's last
   * fragments (a frame sent right after a large message would otherwise overwrite its tail, and a
   * lapped reader loses everything up to the cursor). Other frames in overflow=lose overwrite,
   * unless they must queue behind a waiting one.
   */
  #bounded(ring: SharedRing, fragment: boolean): boolean {
    return this.#options.overflow === 'wait' || fragment || this.#fragmentsUnread(ring);
  }

  /**
   * Publish a frame that queued behind a waiting one. `bounded` (overflow=wait, or a fragment):
   * retry every millisecond until the slowest registered reader made room, up to waitTimeoutMs;
   * otherwise publish at once, overwriting.
   */
  async #publishWhenRoom(frame: Uint8Array, bounded: boolean, fragment: boolean): Promise<void> {
    const started = performance.now();
    let nextReclaim = started + 50;
    for (;;) {
      const ring = this.#ring;
      if (ring === undefined || this.#closed)
        throw new ClosedError('the mmf transport closed while a send waited for room');
      if (!bounded || (!fragment && this.#options.overflow === 'lose' && !this.#fragmentsUnread(ring))) {
        ring.publish(frame);
        return;
      }
      if (this.#tryPublish(ring, frame, fragment)) return;
      const now = performance.now();
      if (now >= nextReclaim) {
        // A killed reader never frees its slot: stop waiting for processes that are gone.
        ring.reclaimDeadReaders(isAlive);
        nextReclaim = now + 50;
      }
      if (now - started >= this.#options.waitTimeoutMs) {
        const slowest = ring.slowestReader();
        const who =
          slowest === undefined ? 'a reader' : `the reader in process ${slowest.pid} (${slowest.behind} bytes behind)`;
        throw new BufferFullError(
          ring.capacity,
          `mmf://${this.#options.name}: ring full, ${who} did not make room within ${this.#options.waitTimeoutMs} ms; the frame was not sent`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** tryPublish, remembering where the ring stood after a fragment (see {@link #fragmentsUnread}). */
  #tryPublish(ring: SharedRing, frame: Uint8Array, fragment: boolean): boolean {
    if (ring.tryPublish(frame) < 0) return false;
    if (fragment) [this.#fragmentsEnd] = ring.loadClaim();
    return true;
  }

  /**
   * True while a registered reader has not read past this member's last fragment. The position
   * is the cursor just after that fragment was written (later records only make it conservative);
   * once every reader is past it, it is forgotten and frames that are not fragments overwrite again.
   */
  #fragmentsUnread(ring: SharedRing): boolean {
    if (this.#fragmentsEnd < 0) return false;
    if (ring.readerBefore(this.#fragmentsEnd)) return true;
    this.#fragmentsEnd = -1;
    return false;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const mapping = this.#mapping;
    this.#mapping = undefined;
    this.#ring = undefined;
    this.#reader?.close();
    this.#state.next('closed');
    this.#frames.complete();
    await mapping?.release();
  }

  stats(): Readonly<Record<string, number>> {
    const s = this.#reader?.stats();
    return { framesDelivered: s?.delivered ?? 0, framesLost: s?.lost ?? 0, framesAbandoned: s?.abandoned ?? 0 };
  }

  /**
   * A send usually draws a reply: keep the reader polling for `spinMs`. A reader asleep on the
   * doorbell starts polling now rather than after its wait returns (a thread hop); the wait still
   * in flight is ignored when it returns.
   */
  #awaitReply(): void {
    this.#sent = true;
    if (!this.#sleeping) return;
    this.#sleeping = false;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#pump);
  }

  /**
   * Read what is there; then either go on (budget spent), re-poll shortly (a writer is mid-write),
   * keep polling (records or a send within the last `spinMs`), or sleep on the doorbell until a
   * writer rings. Only the sleep involves the kernel.
   */
  #poll(): void {
    if (this.#broken) return;
    try {
      this.#pollOnce();
    } catch (err) {
      // Polls run from setImmediate, timers and sleep callbacks: an error thrown there is
      // uncaught and ends the process. A RingMismatchError means the ring itself became unusable
      // (a cursor off the record grid, written by something that is not a busway writer): end
      // the stream with it, the transport's way to report an unrecoverable failure. Anything
      // else is a bug and stays loud.
      if (!(err instanceof RingMismatchError)) throw err;
      this.#broken = true;
      this.#frames.error(err);
    }
  }

  #pollOnce(): void {
    const reader = this.#reader;
    const ring = this.#ring;
    const mapping = this.#mapping;
    if (this.#closed || reader === undefined || ring === undefined || mapping === undefined) return;
    const before = reader.sequence;
    const result = reader.poll(this.#deliver, POLL_BUDGET);
    if (result === 'more') {
      this.#schedule();
      return;
    }
    if (result === 'pending') {
      const now = performance.now();
      if (this.#pendingSince < 0) this.#pendingSince = now;
      if (now - this.#pendingSince < SPIN_MS) this.#schedule();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setTimeout(this.#pump, 1);
      }
      return;
    }
    this.#pendingSince = -1;
    const spinMs = this.#options.spinMs;
    if (spinMs > 0) {
      // Stay awake a little after the last record or send: a reply or the next burst usually
      // comes within microseconds, and catching it by polling saves a futex round trip (a
      // worker-thread hop each way). The window restarts with every record read (own ones too:
      // they mean this member is busy) and every send, so a flowing stream never sleeps; an idle
      // member spins at most spinMs after the last traffic, then sleeps in the kernel.
      const now = performance.now();
      if (this.#sent || reader.sequence !== before) {
        this.#sent = false;
        this.#activeUntil = now + spinMs;
        this.#emptyPolls = 0;
      }
      if (now < this.#activeUntil) {
        // Yield from the second empty poll on: a member that is busy anyway (a publisher sending
        // every turn, a reader with records each poll) never yields, which on a loaded machine
        // could hand its CPU away for a whole time slice per turn; one that is waiting lets the
        // member that must answer run.
        if (++this.#emptyPolls > 1) mapping.yieldCpu?.();
        this.#schedule();
        return;
      }
    }
    // The mapping announces the sleep (once per process: transports of one ring share the wait)
    // and calls hasWork after that: a writer that committed before the announcement did not ring.
    const slept = mapping.sleep(this.#hasWork, this.#options.idleCheckMs);
    if (slept === undefined) {
      this.#schedule();
      return;
    }
    this.#sleeping = true;
    const sleep = ++this.#sleeps;
    void slept.then(() => {
      if (!this.#sleeping || this.#sleeps !== sleep) return;
      this.#sleeping = false;
      this.#poll();
    });
  }
}
