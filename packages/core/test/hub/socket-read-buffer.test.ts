import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { DEFAULT_READ_BUFFER_SIZE, SocketReadBuffer } from '../../src/hub/index.js';

/** What Node does on a read: fill the buffer's start, then call back with the count. */
function read(reads: SocketReadBuffer, bytes: number[]): boolean {
  reads.onread.buffer.set(bytes);
  return reads.onread.callback(bytes.length, reads.onread.buffer);
}

describe('SocketReadBuffer', () => {
  it('hands each read to the consumer as a view of the one buffer, and keeps reading', () => {
    const reads = new SocketReadBuffer();
    expect(reads.onread.buffer.length).toBe(DEFAULT_READ_BUFFER_SIZE);
    const seen: Uint8Array[] = [];
    reads.consume((bytes) => seen.push(bytes));
    expect(read(reads, [1, 2, 3])).toBe(true);
    expect(read(reads, [4, 5])).toBe(true);
    expect(seen.map((b) => b.length)).toEqual([3, 2]);
    // Zero-copy: both views are of the same memory, so the first now shows the second read.
    expect(seen[0]?.buffer).toBe(reads.onread.buffer.buffer);
    expect([...(seen[0] as Uint8Array)]).toEqual([4, 5, 3]);
  });

  it('copies aside a read nobody consumes, stops reading, and gives it to the next consumer first', () => {
    const reads = new SocketReadBuffer(16);
    // Returning false is how Node is told to stop reading (as pause() would).
    expect(read(reads, [1, 2, 3])).toBe(false);
    expect(reads.heldBytes).toBe(3);
    reads.onread.buffer.fill(0xee); // the buffer is reused: the held bytes must not be a view of it
    const seen: number[][] = [];
    reads.consume((bytes) => seen.push([...bytes]));
    expect(seen).toEqual([[1, 2, 3]]);
    expect(reads.heldBytes).toBe(0);
    read(reads, [4]);
    expect(seen).toEqual([[1, 2, 3], [4]]);
  });

  it('leaves held reads for the next consumer when one steps aside while taking them', () => {
    const reads = new SocketReadBuffer(16);
    read(reads, [1]);
    read(reads, [2]); // Node would not read again once told to stop; held in order all the same
    const first: number[][] = [];
    // A handshake that has what it needs after the first read steps aside.
    reads.consume((bytes) => {
      first.push([...bytes]);
      reads.consume(undefined);
    });
    expect(first).toEqual([[1]]);
    expect(reads.heldBytes).toBe(1);
    const second: number[][] = [];
    reads.consume((bytes) => second.push([...bytes]));
    expect(second).toEqual([[2]]);
  });

  it('refuses a buffer that could hold nothing', () => {
    expect(() => new SocketReadBuffer(0)).toThrow(ConfigurationError);
    expect(() => new SocketReadBuffer(1.5)).toThrow(ConfigurationError);
  });
});
