/**
 * Small byte arrays carved from a shared slab, for what the bus builds per message (frames, binary
 * payloads): a fresh ArrayBuffer per message costs more than the rest of its encoding.
 *
 * @module
 */

const SLAB_SIZE = 256 * 1024;
/** Larger arrays get their own buffer: they would use up a slab for little gain. */
const SLAB_MAX_BYTES = 16 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

/**
 * `size` zeroed bytes. Arrays up to 16 KiB are views into a shared
 * slab (`byteOffset` is not 0): code that hands one to the OS must use the view, never
 * `bytes.buffer` whole. A slab is never reused, only dropped when full, so a view stays valid for
 * as long as it is referenced.
 *
 * @example
 * ```ts
 * const frame = allocateBytes(40 + topic.length + payload.length);
 * ```
 */
export function allocateBytes(size: number): Uint8Array {
  if (size > SLAB_MAX_BYTES) return new Uint8Array(size);
  if (slabUsed + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const bytes = new Uint8Array(slab.buffer, slabUsed, size);
  // Keep the next array 8-byte aligned, which typed-array views over a copy may want.
  slabUsed = (slabUsed + size + 7) & ~7;
  return bytes;
}
