/**
 * Native memory that stays at one address until freed, for what the kernel writes to after a
 * call has returned (OVERLAPPED structures, overlapped I/O buffers, completion entries).
 *
 * @module
 */
import { loadKoffi } from './koffi-loader.js';

/**
 * A block of native memory from `koffi.alloc`, with a JS view of it. Free it exactly once, and
 * never touch `bytes` afterwards: the view would point at freed memory.
 *
 * @example
 * ```ts
 * const block = new NativeMemory(64);
 * try {
 *   block.bytes.fill(0);
 *   someCall(block.address);
 * } finally {
 *   block.free();
 * }
 * ```
 */
export class NativeMemory {
  /** The address, as a number, for bindings that take `intptr_t` addresses. */
  readonly address: number;
  /** The address as koffi's pointer type, for bindings that take `void *`. */
  readonly pointer: bigint;
  /** Size in bytes. */
  readonly size: number;
  #bytes: Uint8Array | undefined;

  constructor(size: number) {
    const koffi = loadKoffi();
    this.size = size;
    this.pointer = koffi.alloc('uint8_t', size) as bigint;
    this.address = Number(this.pointer);
    this.#bytes = new Uint8Array(koffi.view(this.pointer, size));
    this.#bytes.fill(0);
  }

  /** A view of the memory; throws once freed. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new Error('native memory used after free');
    return this.#bytes;
  }

  /** Release the memory. Idempotent. */
  free(): void {
    if (this.#bytes === undefined) return;
    this.#bytes = undefined;
    loadKoffi().free(this.pointer);
  }
}
