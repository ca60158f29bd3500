/**
 * Several frames in one datagram. When a peer's queue is full (Linux queues only 10 datagrams per
 * socket by default), the frames waiting for it are sent packed together once it has room, so a
 * backlog drains at the kernel's datagram rate times the frames per datagram, not one frame per
 * wake-up. Only backlogs are packed: a frame sent to an idle peer goes out alone, at once.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 2 | magic 0x424B ("BK") |
 * | 2 | 1 | version 1 |
 * | 3 | 1 | reserved, 0 |
 * | 4 | … | entries: u32 length (big-endian), then that many bytes (a frame or a membership datagram) |
 *
 * With a shared key the whole batch is sealed once, like any datagram.
 *
 * @module
 */

/** Bytes a batch adds before its first entry. */
export const BATCH_HEADER_SIZE = 4;
/** Bytes a batch adds per entry. */
export const BATCH_ENTRY_OVERHEAD = 4;

/**
 * `true` when `bytes` starts like a batch.
 *
 * @example
 * ```ts
 * if (isBatch(body)) for (const part of splitBatch(body) ?? []) handle(part);
 * ```
 */
export function isBatch(bytes: Uint8Array): boolean {
  return bytes.length >= BATCH_HEADER_SIZE && bytes[0] === 0x42 && bytes[1] === 0x4b;
}

/**
 * Pack `parts` into one batch.
 *
 * @example
 * ```ts
 * const datagram = encodeBatch([frameA, frameB]);
 * ```
 */
export function encodeBatch(parts: readonly Uint8Array[]): Uint8Array {
  let size = BATCH_HEADER_SIZE;
  for (const part of parts) size += BATCH_ENTRY_OVERHEAD + part.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4b;
  out[2] = 1;
  let at = BATCH_HEADER_SIZE;
  for (const part of parts) {
    view.setUint32(at, part.length);
    out.set(part, at + BATCH_ENTRY_OVERHEAD);
    at += BATCH_ENTRY_OVERHEAD + part.length;
  }
  return out;
}

/**
 * Split a batch into views of its entries; `undefined` when it is malformed (wrong version, an
 * entry running past the end, or an empty batch): the whole datagram is then garbage.
 *
 * @example
 * ```ts
 * const parts = splitBatch(datagram);
 * if (parts === undefined) countGarbage();
 * ```
 */
export function splitBatch(bytes: Uint8Array): Uint8Array[] | undefined {
  if (!isBatch(bytes) || bytes[2] !== 1 || bytes[3] !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  let at = BATCH_HEADER_SIZE;
  while (at < bytes.length) {
    if (at + BATCH_ENTRY_OVERHEAD > bytes.length) return undefined;
    const length = view.getUint32(at);
    const start = at + BATCH_ENTRY_OVERHEAD;
    if (length > bytes.length - start) return undefined;
    parts.push(bytes.subarray(start, start + length));
    at = start + length;
  }
  return parts.length === 0 ? undefined : parts;
}
