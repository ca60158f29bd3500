/**
 * Small byte arrays carved from a shared slab, for what the bus builds or copies per message
 * (frames, received binary payloads): a fresh `Uint8Array` of more than 64 bytes gets an off-heap
 * backing store of its own, which costs more than the rest of handling a small message.
 *
 * @module
 */

/**
 * Hands out views of a slab of `slabSize` bytes, one after another, and starts a new slab when
 * one is used up; arrays over `maxBytes` get their own buffer. A slab is never reused, only
 * dropped when full, so a view stays valid for as long as it is referenced, and keeps its whole
 * slab alive: that is the cost of the trade, bounded by `slabSize`.
 *
 * @example
 * ```ts
 * const copies = new ByteSlab(16 * 1024, 1024);
 * const copy = copies.allocate(200); // a view: use byteOffset with its buffer
 * ```
 */
export class ByteSlab {
  #slab: Uint8Array;
  #used = 0;

  constructor(
    private readonly slabSize: number,
    private readonly maxBytes: number,
  ) {
    this.#slab = new Uint8Array(slabSize);
  }

  /**
   * `size` zeroed bytes: up to `maxBytes`, a view into the current slab (`byteOffset` is not 0:
   * code that hands one to the OS must use the view, never `bytes.buffer` whole).
   */
  allocate(size: number): Uint8Array {
    if (size > this.maxBytes) return new Uint8Array(size);
    if (this.#used + size > this.slabSize) {
      this.#slab = new Uint8Array(this.slabSize);
      this.#used = 0;
    }
    const bytes = new Uint8Array(this.#slab.buffer, this.#used, size);
    // Keep the next array 8-byte aligned, which typed-array views over a copy may want.
    this.#used = (this.#used + size + 7) & ~7;
    return bytes;
  }
}

/** What the bus encodes per message: arrays up to 16 KiB from 256 KiB slabs. */
const encodings = new ByteSlab(256 * 1024, 16 * 1024);

/**
 * `size` zeroed bytes for a frame or an encoding the bus builds. Arrays up to 16 KiB are views into
 * a shared 256 KiB slab (see {@link ByteSlab}).
 *
 * @example
 * ```ts
 * const frame = allocateBytes(40 + topic.length + payload.length);
 * ```
 */
export function allocateBytes(size: number): Uint8Array {
  return encodings.allocate(size);
}
