import { describe, expect, it } from 'vitest';
import { MemoryPool } from '../src/memory-pool.js';

describe('MemoryPool', () => {
  it('reuses a given-back block with its header zeroed, keeps data capacity a power of two', () => {
    const pool = new MemoryPool(32);
    const block = pool.take(100);
    expect(block.size).toBe(32 + 128);
    block.bytes.fill(7);
    const address = block.address;
    pool.give(block);
    expect(pool.pooledBytes).toBe(160);
    const again = pool.take(128);
    expect(again.address).toBe(address);
    expect([...again.bytes.subarray(0, 32)].every((b) => b === 0)).toBe(true);
    expect(again.bytes[32]).toBe(7);
    expect(pool.pooledBytes).toBe(0);
    pool.give(again);
    pool.clear();
    expect(pool.pooledBytes).toBe(0);
  });

  it('frees instead of pooling past its limits', () => {
    const pool = new MemoryPool(32, { maxPooledBytes: 200, maxCapacity: 1024 });
    const big = pool.take(4096);
    expect(big.size).toBe(32 + 4096);
    pool.give(big);
    expect(pool.pooledBytes).toBe(0);
    expect(() => big.bytes).toThrow(/after free/);
    const a = pool.take(128);
    const b = pool.take(128);
    pool.give(a);
    pool.give(b); // 2 × 160 > 200: freed
    expect(pool.pooledBytes).toBe(160);
    expect(() => b.bytes).toThrow(/after free/);
    pool.clear();
    expect(() => a.bytes).toThrow(/after free/);
  });
});
