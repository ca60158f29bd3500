import { describe, expect, it } from 'vitest';
import { PendingRequests } from '../src/pending-requests.js';

interface Entry {
  readonly correlation: number;
}

function addNew(pending: PendingRequests<Entry>): Entry {
  const entry = { correlation: pending.nextCorrelation() };
  pending.add(entry);
  return entry;
}

describe('PendingRequests', () => {
  it('gives increasing ids from 1 and finds each entry by its id only', () => {
    const pending = new PendingRequests<Entry>();
    const a = addNew(pending);
    const b = addNew(pending);
    expect([a.correlation, b.correlation]).toEqual([1, 2]);
    expect(pending.get(1)).toBe(a);
    expect(pending.get(2)).toBe(b);
    expect(pending.get(17)).toBeUndefined(); // the slot of 1 in a 16-slot table
    expect(pending.get(0)).toBeUndefined();
    expect(pending.size).toBe(2);
    expect(pending.delete(a)).toBe(true);
    expect(pending.delete(a)).toBe(false);
    expect(pending.get(1)).toBeUndefined();
    expect(pending.size).toBe(1);
  });

  it('skips only the ids whose slot a waiting entry holds, and never reuses a recent id', () => {
    const pending = new PendingRequests<Entry>();
    const old = addNew(pending); // 1, waits throughout
    const seen = new Set<number>([old.correlation]);
    for (let i = 0; i < 1000; i += 1) {
      const entry = addNew(pending);
      expect(seen.has(entry.correlation)).toBe(false);
      expect(entry.correlation).toBeGreaterThan(old.correlation);
      seen.add(entry.correlation);
      expect(pending.get(entry.correlation)).toBe(entry);
      expect(pending.get(old.correlation)).toBe(old);
      pending.delete(entry);
    }
    // 1001 ids given out past 1, of which only those in old's slot (1 + 16k) were skipped.
    const skipped = [...Array(1100).keys()].filter((c) => c > 1 && !seen.has(c) && c < Math.max(...seen));
    expect(skipped.every((c) => (c & 15) === 1)).toBe(true);
  });

  it('grows past half full and keeps every entry', () => {
    const pending = new PendingRequests<Entry>();
    const entries = Array.from({ length: 5000 }, () => addNew(pending));
    for (const entry of entries) expect(pending.get(entry.correlation)).toBe(entry);
    expect(pending.size).toBe(5000);
    expect(new Set(entries.map((e) => e.correlation)).size).toBe(5000);
    for (const entry of entries) pending.delete(entry);
    expect(pending.size).toBe(0);
    const next = addNew(pending);
    expect(next.correlation).toBe(5001);
    expect(pending.get(next.correlation)).toBe(next);
  });

  it('lists entries oldest first, also across the wrap of ids at 2^32 (which skips 0)', () => {
    const pending = new PendingRequests<Entry>(2 ** 32 - 5);
    const entries = Array.from({ length: 20 }, () => addNew(pending));
    expect(entries.slice(0, 6).map((e) => e.correlation)).toEqual([
      2 ** 32 - 4,
      2 ** 32 - 3,
      2 ** 32 - 2,
      2 ** 32 - 1,
      1,
      2,
    ]);
    for (const entry of entries) expect(pending.get(entry.correlation)).toBe(entry);
    for (const entry of entries.slice(5, 10)) pending.delete(entry);
    expect(pending.values()).toEqual(entries.filter((_, i) => i < 5 || i >= 10));
  });
});
