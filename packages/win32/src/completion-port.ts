/**
 * Overlapped I/O through one I/O completion port, drained by one koffi async call at a time.
 *
 * Why this shape: a blocking `ReadFile` per handle, or a koffi `.async` call per pending
 * operation, would park one libuv worker thread per handle (there are 4 by default), so a server
 * with many clients would stall every other use of the thread pool (fs, dns, crypto). Here every
 * operation is started on the main thread with an OVERLAPPED and returns at once; the kernel
 * queues a completion packet on the port when it finishes; a single
 * `GetQueuedCompletionStatusEx` call, running on one worker thread, collects up to `batchSize`
 * packets at a time and hands them back to the main thread, which settles each operation. At
 * most one worker thread is ever blocked, however many operations are pending.
 *
 * @module
 */
import { ClosedError } from '@busway/core';
import { INFINITE, IoStatus, Overlapped } from './constants.js';
import { Win32Handle } from './handle.js';
import { kernel32, type Kernel32Bindings } from './kernel32.js';
import { checkBool, checkHandle } from './last-error.js';
import { NativeMemory } from './native-memory.js';
import { MemoryPool } from './memory-pool.js';
import { assertWindows } from './platform-error.js';
import { Win32Error } from './win32-error.js';

const OVERLAPPED_SIZE = Overlapped.SIZE;
const OVERLAPPED_ENTRY_SIZE = 32;
const { ERROR_MORE_DATA, ERROR_PIPE_CONNECTED, ERROR_IO_PENDING, ERROR_NOT_FOUND } = IoStatus;
const WAIT_TIMEOUT = 258;
/** Completion key of the packet {@link CompletionPort.close} posts to end a wait early. */
const WAKE_KEY = 1;

/**
 * Options of {@link CompletionPort}; every field documents its default.
 *
 * @example
 * ```ts
 * const port = new CompletionPort({ batchSize: 64 } satisfies CompletionPortOptions);
 * ```
 */
export interface CompletionPortOptions {
  /** Most completions taken from the port per wait. Default 256. */
  readonly batchSize?: number;
}

/**
 * Options of one overlapped operation.
 *
 * @example
 * ```ts
 * await port.read(pipe, 4096, { signal: AbortSignal.timeout(1000) } satisfies OperationOptions);
 * ```
 */
export interface OperationOptions {
  /** Cancels the operation (`CancelIoEx`); it then rejects with `ERROR_OPERATION_ABORTED`. */
  readonly signal?: AbortSignal;
}

/**
 * What an overlapped read delivers.
 *
 * @example
 * ```ts
 * const { bytes, moreData }: OverlappedReadResult = await port.read(pipe, 4096);
 * ```
 */
export interface OverlappedReadResult {
  /** The bytes read: a copy, owned by the caller. */
  readonly bytes: Uint8Array;
  /** A message-mode read got only the first part of a longer message (`ERROR_MORE_DATA`). */
  readonly moreData: boolean;
}

/**
 * Counters of a {@link CompletionPort}, for tests and benchmarks.
 *
 * @example
 * ```ts
 * const { pending, maxWaitsInFlight }: CompletionPortStats = port.stats;
 * ```
 */
export interface CompletionPortStats {
  /** `GetQueuedCompletionStatusEx` calls issued. */
  readonly waits: number;
  /** Operations settled from a completion packet. */
  readonly completions: number;
  /** Largest number of packets one wait returned. */
  readonly largestBatch: number;
  /** Waits in flight now: 0 or 1. */
  readonly waitsInFlight: number;
  /** Most waits ever in flight at once: the number of worker threads the port has blocked. */
  readonly maxWaitsInFlight: number;
  /** Operations started and not yet settled. */
  readonly pending: number;
  /**
   * Main-thread time spent settling completions (reading the entries, GetOverlappedResult for
   * failures, copying bytes out, freeing, the callbacks), in ns. Divided by `completions`, the
   * pump's cost per completion.
   */
  readonly dispatchNs: number;
}

/**
 * Callback form of an operation's result.
 *
 * @example
 * ```ts
 * const done: Completion<number> = (err, written) => console.log(err ?? written);
 * ```
 */
export type Completion<T> = (error: Error | undefined, result: T | undefined) => void;

interface Operation {
  readonly syscall: string;
  readonly handle: Win32Handle;
  readonly handleValue: number;
  /** OVERLAPPED followed by the data buffer; must stay allocated until the packet arrives. */
  readonly memory: NativeMemory;
  readonly finish: (error: Error | undefined, transferred: number, moreData: boolean) => void;
  /** Report a failure without freeing the memory (the kernel may still own it). */
  readonly abandon: (error: Error) => void;
  readonly detach: (() => void) | undefined;
}

/**
 * An I/O completion port with its pump. Associate handles opened with `FILE_FLAG_OVERLAPPED`
 * (done automatically by the first operation), then start reads, writes and pipe connects; each
 * returns a Promise (or calls back) when its completion packet arrives.
 *
 * @example
 * ```ts
 * const port = new CompletionPort();
 * const server = createNamedPipe('orders');
 * await port.connect(server);
 * const { bytes } = await port.read(server, 65_536);
 * await port.write(server, bytes);
 * server.close();
 * await port.close();
 * ```
 */
export class CompletionPort {
  readonly #k32: Kernel32Bindings;
  readonly #port: Win32Handle;
  readonly #batchSize: number;
  /** OVERLAPPED_ENTRY[batchSize], then the ULONG count of entries removed. */
  readonly #entries: NativeMemory;
  readonly #entryView: DataView;
  readonly #pending = new Map<number, Operation>();
  readonly #associated = new WeakSet<Win32Handle>();
  /** OVERLAPPED + data blocks, reused: allocating and viewing native memory costs microseconds. */
  readonly #pool = new MemoryPool(OVERLAPPED_SIZE);
  #waiting = false;
  /**
   * True while a batch is being settled. The batch is read from `#entries`, which the next wait
   * writes into: no wait may be issued until every entry has been read (see {@link #pump}).
   */
  #dispatching = false;
  #closed = false;
  #drained: (() => void) | undefined;
  #stats = { waits: 0, completions: 0, largestBatch: 0, maxWaitsInFlight: 0, dispatchNs: 0 };

  constructor(options: CompletionPortOptions = {}) {
    assertWindows('CompletionPort');
    this.#k32 = kernel32();
    this.#batchSize = options.batchSize ?? 256;
    const raw = this.#k32.CreateIoCompletionPort(-1, 0, 0, 1);
    this.#port = new Win32Handle(checkHandle(raw, 0, 'CreateIoCompletionPort'), 'completion-port');
    this.#entries = new NativeMemory(this.#batchSize * OVERLAPPED_ENTRY_SIZE + 8);
    this.#entryView = new DataView(this.#entries.bytes.buffer, this.#entries.bytes.byteOffset, this.#entries.size);
  }

  /** Counters, see {@link CompletionPortStats}. */
  get stats(): CompletionPortStats {
    // Field by field: `{ ...stats, more }` takes a slow path in V8 (microseconds a call).
    const s = this.#stats;
    return {
      waits: s.waits,
      completions: s.completions,
      largestBatch: s.largestBatch,
      waitsInFlight: this.#waiting ? 1 : 0,
      maxWaitsInFlight: s.maxWaitsInFlight,
      pending: this.#pending.size,
      dispatchNs: s.dispatchNs,
    };
  }

  /**
   * Associate a handle with the port, so its overlapped operations complete here. Idempotent;
   * the operations call it themselves.
   *
   * @example
   * ```ts
   * port.associate(server);
   * ```
   */
  associate(handle: Win32Handle): void {
    if (this.#associated.has(handle)) return;
    const result = this.#k32.CreateIoCompletionPort(handle.value, this.#port.value, 0, 0);
    checkHandle(result, 0, 'CreateIoCompletionPort', handle.name);
    this.#associated.add(handle);
  }

  /**
   * Read up to `maxBytes` (overlapped `ReadFile`).
   *
   * @example
   * ```ts
   * const { bytes, moreData } = await port.read(pipe, 4096);
   * ```
   */
  read(handle: Win32Handle, maxBytes: number, options: OperationOptions = {}): Promise<OverlappedReadResult> {
    return new Promise((resolve, reject) =>
      this.startRead(handle, maxBytes, (e, r) => (e ? reject(e) : resolve(r as OverlappedReadResult)), options),
    );
  }

  /**
   * Callback form of {@link CompletionPort.read}: no Promise, for the hottest paths.
   *
   * @example
   * ```ts
   * port.startRead(pipe, 4096, (err, result) => { if (!err) onFrame(result!.bytes); });
   * ```
   */
  startRead(
    handle: Win32Handle,
    maxBytes: number,
    done: Completion<OverlappedReadResult>,
    options: OperationOptions = {},
  ): void {
    this.#start(
      'ReadFile',
      handle,
      maxBytes,
      options,
      done,
      (k32, h, ov, buffer) => k32.ReadFileOverlapped(h, buffer, maxBytes, 0, ov),
      (memory, n, moreData) => ({
        bytes: memory.bytes.slice(OVERLAPPED_SIZE, OVERLAPPED_SIZE + n),
        moreData,
      }),
    );
  }

  /**
   * Write `data` (overlapped `WriteFile`); resolves with the number of bytes written. `data` is
   * copied, so the caller may reuse it at once.
   *
   * @example
   * ```ts
   * await port.write(pipe, new TextEncoder().encode('hello'));
   * ```
   */
  write(handle: Win32Handle, data: Uint8Array, options: OperationOptions = {}): Promise<number> {
    return new Promise((resolve, reject) =>
      this.startWrite(handle, data, (e, n) => (e ? reject(e) : resolve(n as number)), options),
    );
  }

  /**
   * Callback form of {@link CompletionPort.write}.
   *
   * @example
   * ```ts
   * port.startWrite(pipe, frame, (err) => { if (err) onError(err); });
   * ```
   */
  startWrite(handle: Win32Handle, data: Uint8Array, done: Completion<number>, options: OperationOptions = {}): void {
    this.#start(
      'WriteFile',
      handle,
      data.byteLength,
      options,
      done,
      (k32, h, ov, buffer, memory) => {
        memory.bytes.set(data, OVERLAPPED_SIZE);
        return k32.WriteFileOverlapped(h, buffer, data.byteLength, 0, ov);
      },
      (_memory, n) => n,
    );
  }

  /**
   * Wait for a client to connect to a server pipe instance (overlapped `ConnectNamedPipe`).
   * Resolves at once if a client connected already.
   *
   * @example
   * ```ts
   * await port.connect(server);
   * ```
   */
  connect(handle: Win32Handle, options: OperationOptions = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#start(
        'ConnectNamedPipe',
        handle,
        0,
        options,
        (e) => (e ? reject(e) : resolve()),
        (k32, h, ov) => k32.ConnectNamedPipe(h, ov),
        () => undefined,
      ),
    );
  }

  /**
   * Cancel every pending operation on `handle` (`CancelIoEx`); each rejects with
   * `ERROR_OPERATION_ABORTED`.
   *
   * @example
   * ```ts
   * port.cancel(pipe);
   * ```
   */
  cancel(handle: Win32Handle): void {
    if (handle.closed) return;
    if (this.#k32.CancelIoEx(handle.value, 0) === 0) {
      const errno = this.#k32.GetLastError();
      if (errno !== ERROR_NOT_FOUND) throw new Win32Error('CancelIoEx', errno, handle.name);
    }
  }

  /**
   * Cancel what is pending, wait for the cancellations to complete (the kernel may write into
   * the OVERLAPPED and buffers until then), close the port and free its memory. Idempotent.
   *
   * @example
   * ```ts
   * await port.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const operation of this.#pending.values()) this.#cancelOperation(operation);
    // Closed from a completion callback, the batch is still being read from #entries: let it
    // finish (#afterBatch resolves #drained) before freeing them.
    if (this.#pending.size > 0 || this.#waiting || this.#dispatching) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        // A wait may be in flight with nothing left to deliver: wake it.
        if (this.#pending.size === 0 && this.#waiting)
          checkBool(
            this.#k32.PostQueuedCompletionStatus(this.#port.value, 0, WAKE_KEY, 0),
            'PostQueuedCompletionStatus',
          );
      });
    }
    this.#port.close();
    this.#entries.free();
    this.#pool.clear();
  }

  #start<T>(
    syscall: string,
    handle: Win32Handle,
    dataSize: number,
    options: OperationOptions,
    done: Completion<T>,
    issue: (k32: Kernel32Bindings, handle: number, overlapped: number, buffer: number, memory: NativeMemory) => number,
    result: (memory: NativeMemory, transferred: number, moreData: boolean) => T,
  ): void {
    if (this.#closed) return done(new ClosedError('the completion port is closed'), undefined);
    if (options.signal?.aborted)
      return done(
        new Win32Error(syscall, 995, 'aborted before it started', { cause: options.signal.reason }),
        undefined,
      );
    try {
      this.associate(handle);
    } catch (err) {
      return done(err as Error, undefined);
    }
    const handleValue = handle.value;
    const memory = this.#pool.take(dataSize);
    const overlapped = memory.address;
    let ok: number;
    try {
      ok = issue(this.#k32, handleValue, overlapped, overlapped + OVERLAPPED_SIZE, memory);
    } catch (err) {
      // The call was not made (a marshalling error): nothing owns the memory but us.
      this.#pool.give(memory);
      return done(err as Error, undefined);
    }
    if (ok === 0) {
      const errno = this.#k32.GetLastError();
      if (syscall === 'ConnectNamedPipe' && errno === ERROR_PIPE_CONNECTED) {
        // The client connected between CreateNamedPipeW and now: done, and no packet follows.
        const value = result(memory, 0, false);
        this.#pool.give(memory);
        return done(undefined, value);
      }
      // ERROR_MORE_DATA is a warning status: the read completed (partly), and as for any
      // non-error completion the kernel queues a packet, which settles the operation.
      if (errno !== ERROR_IO_PENDING && errno !== ERROR_MORE_DATA) {
        this.#pool.give(memory);
        return done(new Win32Error(syscall, errno, handle.name), undefined);
      }
    }
    // Even when the call succeeded at once, a packet is queued (we do not set
    // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS), so every started operation settles in #dispatch.
    const signal = options.signal;
    const onAbort = (): void => this.#cancelOperation(operation);
    signal?.addEventListener('abort', onAbort, { once: true });
    const operation: Operation = {
      syscall,
      handle,
      handleValue,
      memory,
      detach: signal === undefined ? undefined : () => signal.removeEventListener('abort', onAbort),
      abandon: (error) => done(error, undefined),
      finish: (error, transferred, moreData) => {
        if (error !== undefined) {
          this.#pool.give(memory);
          return done(error, undefined);
        }
        const value = result(memory, transferred, moreData);
        this.#pool.give(memory);
        done(undefined, value);
      },
    };
    this.#pending.set(overlapped, operation);
    this.#pump();
  }

  #cancelOperation(operation: Operation): void {
    // CancelIoEx on one OVERLAPPED; ERROR_NOT_FOUND means it already completed (its packet is on
    // the way), ERROR_INVALID_HANDLE that its handle was closed, which cancelled it already.
    this.#k32.CancelIoEx(operation.handleValue, operation.memory.address);
  }

  /**
   * Issue the wait if operations are pending, none is in flight and no batch is being settled.
   *
   * Why not while settling: completion callbacks start operations (a link reads again, or writes
   * what was queued meanwhile), and each start pumps. A wait issued then runs on a worker thread
   * and writes its packets into the same `#entries` the main thread is still reading the batch
   * from: an entry not read yet is overwritten, so its operation never settles, and the
   * overwriting packet is settled here and again by its own batch (BUSWAY_STRAY_COMPLETION).
   * Seen under Wine as a pipe link whose write never completed, so it stopped flushing: an
   * operation that succeeds at once still queues its packet (we do not set
   * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS), and the wait issued by starting it returned with it
   * (and another) within 0.4 ms, while the batch it was started from was still being settled. The
   * race does not depend on Wine: Windows queues that packet too. {@link #afterBatch} issues the
   * next wait once the batch is settled.
   */
  #pump(): void {
    if (this.#waiting || this.#dispatching || this.#pending.size === 0) return;
    this.#waiting = true;
    this.#stats.waits += 1;
    this.#stats.maxWaitsInFlight = Math.max(this.#stats.maxWaitsInFlight, 1);
    const entries = this.#entries.address;
    const removed = entries + this.#batchSize * OVERLAPPED_ENTRY_SIZE;
    this.#k32.GetQueuedCompletionStatusEx.async(
      this.#port.value,
      entries,
      this.#batchSize,
      removed,
      INFINITE,
      0,
      (err: unknown, ok: number) => {
        this.#waiting = false;
        if (err) return this.#failAll(err instanceof Error ? err : new Error(String(err)));
        if (ok === 0) {
          // The wait failed on the worker thread, whose last error JS cannot read: repeat it here
          // without waiting, which either reports the error or returns what is queued.
          const again = this.#k32.GetQueuedCompletionStatusEx(
            this.#port.value,
            entries,
            this.#batchSize,
            removed,
            0,
            0,
          );
          if (again === 0) {
            const errno = this.#k32.GetLastError();
            if (errno !== WAIT_TIMEOUT) return this.#failAll(new Win32Error('GetQueuedCompletionStatusEx', errno));
            return this.#afterBatch();
          }
        }
        const started = process.hrtime.bigint();
        this.#dispatching = true;
        let failure: { error: unknown } | undefined;
        try {
          failure = this.#dispatch(this.#entryView.getUint32(removed - entries, true));
        } finally {
          this.#dispatching = false;
        }
        this.#stats.dispatchNs += Number(process.hrtime.bigint() - started);
        this.#afterBatch();
        // A callback threw: the rest of the batch was settled and the pump goes on; the error
        // surfaces as it would have from the callback (an uncaught exception).
        if (failure !== undefined) throw failure.error;
      },
    );
  }

  #afterBatch(): void {
    if (this.#pending.size === 0 && this.#drained !== undefined) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
      return;
    }
    this.#pump();
  }

  /** Settle the batch's `count` operations; returns the first error a callback threw, if any. */
  #dispatch(count: number): { error: unknown } | undefined {
    let failure: { error: unknown } | undefined;
    this.#stats.largestBatch = Math.max(this.#stats.largestBatch, count);
    const view = this.#entryView;
    for (let i = 0; i < count; i += 1) {
      const at = i * OVERLAPPED_ENTRY_SIZE;
      const key = Number(view.getBigUint64(at, true));
      const overlapped = Number(view.getBigUint64(at + 8, true));
      const transferred = view.getUint32(at + 24, true);
      const operation = this.#pending.get(overlapped);
      if (operation === undefined) {
        if (key === WAKE_KEY) continue;
        // Every packet on this port belongs to an operation started here; one that does not is
        // a bug that must not pass silently.
        process.emitWarning(`busway: completion packet for unknown OVERLAPPED 0x${overlapped.toString(16)}`, {
          code: 'BUSWAY_STRAY_COMPLETION',
        });
        continue;
      }
      this.#pending.delete(overlapped);
      operation.detach?.();
      this.#stats.completions += 1;
      try {
        this.#settle(operation, overlapped, transferred);
      } catch (error) {
        // Settle the rest of the batch first: its entries are not read again.
        failure ??= { error };
      }
    }
    return failure;
  }

  /** Settle one completed operation from its OVERLAPPED's status. */
  #settle(operation: Operation, overlapped: number, transferred: number): void {
    // The NTSTATUS of the request, from the OVERLAPPED's documented Internal member (the entry's
    // Internal field carries it too, but is documented as reserved).
    const bytes = operation.memory.bytes;
    const status =
      ((bytes[0] as number) |
        ((bytes[1] as number) << 8) |
        ((bytes[2] as number) << 16) |
        ((bytes[3] as number) << 24)) >>>
      0;
    if (status === 0) {
      operation.finish(undefined, transferred, false);
      return;
    }
    // A non-zero NTSTATUS: let GetOverlappedResult translate it to a Win32 error code (it reads
    // the OVERLAPPED only, as the operation is complete), rather than keeping our own table.
    const got: [number] = [0];
    if (this.#k32.GetOverlappedResult(operation.handleValue, overlapped, got, 0) !== 0) {
      operation.finish(undefined, got[0], false);
      return;
    }
    const errno = this.#k32.GetLastError();
    if (errno === ERROR_MORE_DATA) operation.finish(undefined, got[0], true);
    else operation.finish(new Win32Error(operation.syscall, errno, operation.handle.name), 0, false);
  }

  #failAll(error: Error): void {
    // The port is unusable. The OVERLAPPEDs are leaked on purpose: the kernel may still write to
    // them, and freeing memory it writes to would corrupt the heap.
    const operations = [...this.#pending.values()];
    this.#pending.clear();
    for (const operation of operations) {
      operation.detach?.();
      operation.abandon(error);
    }
  }
}
