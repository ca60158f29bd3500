import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DedupStats, DedupWindow } from '../src/dedup-window.js';

const U32 = 2 ** 32;

describe('DedupWindow', () => {
  it('accepts an in-order stream once and counts no gaps', () => {
    const dedup = new DedupWindow({ windowSize: 64 });
    let accepted = 0;
    for (let s = 0; s < 5000; s += 1) if (dedup.accept(1, s)) accepted += 1;
    expect(accepted).toBe(5000);
    expect(dedup.stats).toEqual({ duplicates: 0, gaps: 0, late: 0, origins: 1, evicted: 0 });
  });

  it('rejects and counts duplicates, recent and within the window', () => {
    const dedup = new DedupWindow({ windowSize: 64 });
    for (let s = 0; s < 100; s += 1) dedup.accept(1, s);
    expect(dedup.accept(1, 99)).toBe(false);
    expect(dedup.accept(1, 50)).toBe(false);
    expect(dedup.accept(1, 37)).toBe(false); // oldest sequence still in the window (99 - 63 + 1)
    expect(dedup.stats.duplicates).toBe(3);
    expect(dedup.stats.late).toBe(0);
  });

  it('accepts frames reordered within the window exactly once', () => {
    const dedup = new DedupWindow({ windowSize: 32 });
    const order = [10, 8, 9, 7, 12, 11];
    expect(order.map((s) => dedup.accept(5, s))).toEqual([true, true, true, true, true, true]);
    expect(order.map((s) => dedup.accept(5, s))).toEqual([false, false, false, false, false, false]);
  });

  it('rejects a frame older than the window as late', () => {
    const dedup = new DedupWindow({ windowSize: 32 });
    dedup.accept(1, 0);
    dedup.accept(1, 100);
    expect(dedup.accept(1, 68)).toBe(false); // 100 - 32
    expect(dedup.accept(1, 69)).toBe(true); // 100 - 31: still in the window
    expect(dedup.stats).toMatchObject({ late: 1, duplicates: 0 });
  });

  it('keeps working when the sequence wraps past 2^32', () => {
    const dedup = new DedupWindow({ windowSize: 64 });
    const start = U32 - 40;
    for (let i = 0; i < 100; i += 1) expect(dedup.accept(9, (start + i) % U32)).toBe(true);
    // Sequences from both sides of the wrap are remembered as duplicates.
    expect(dedup.accept(9, U32 - 1)).toBe(false);
    expect(dedup.accept(9, 0)).toBe(false);
    expect(dedup.accept(9, 59)).toBe(false);
    // 60 arrives first after the wrap: it is new.
    expect(dedup.accept(9, 60)).toBe(true);
    expect(dedup.stats).toMatchObject({ duplicates: 3, gaps: 0, late: 0 });
  });

  it('counts a loss across the wrap', () => {
    const dedup = new DedupWindow({ windowSize: 32 });
    dedup.accept(1, U32 - 2);
    dedup.accept(1, U32 - 1);
    // 0 is lost; 1 arrives; then enough frames to push 0 out of the window.
    for (let s = 1; s <= 40; s += 1) dedup.accept(1, s);
    expect(dedup.stats.gaps).toBe(1);
  });

  it('counts gaps exactly: every sequence that leaves the window unseen, once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: U32 - 1 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 400 }),
        fc.array(fc.nat({ max: 20 }), { maxLength: 400 }),
        (first, sent, jitter) => {
          const windowSize = 32;
          const dedup = new DedupWindow({ windowSize });
          // The first frame is always sent: gaps are counted relative to what we saw first.
          sent[0] = true;
          const offsets = sent.flatMap((isSent, i) => (isSent ? [i] : []));
          // Reorder locally (displacement < window) by sorting on offset + jitter.
          const shuffled = offsets
            .map((o, i) => ({ o, key: o + (i === 0 ? -1 : (jitter[i] ?? 0)) }))
            .sort((a, b) => a.key - b.key)
            .map((x) => x.o);
          for (const o of shuffled) expect(dedup.accept(3, (first + o) % U32)).toBe(true);
          // Flush: a full window of consecutive frames pushes every earlier slot out.
          for (let o = sent.length; o < sent.length + windowSize; o += 1) dedup.accept(3, (first + o) % U32);
          const lost = sent.filter((s) => !s).length;
          expect(dedup.stats).toMatchObject({ gaps: lost, duplicates: 0, late: 0 });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('counts sequences jumped over entirely as gaps', () => {
    const dedup = new DedupWindow({ windowSize: 32 });
    dedup.accept(1, 0);
    dedup.accept(1, 1001); // 1..1000 never arrive
    dedup.accept(1, 2000); // 1002..1999 never arrive; pushes out everything up to 1968
    for (let s = 2001; s <= 2031; s += 1) dedup.accept(1, s); // window now 2000..2031
    expect(dedup.stats.gaps).toBe(1000 + 998 + 0);
    expect(dedup.accept(1, 1999)).toBe(false);
    expect(dedup.stats.late).toBe(1);
  });

  it('does not count frames sent before the first one it saw as lost, and still accepts them late', () => {
    const dedup = new DedupWindow({ windowSize: 32 });
    expect(dedup.accept(2, 1000)).toBe(true);
    expect(dedup.accept(2, 999)).toBe(true); // reordered frame sent before the one we saw first
    expect(dedup.accept(2, 999)).toBe(false);
    for (let s = 1001; s < 1100; s += 1) dedup.accept(2, s);
    expect(dedup.stats.gaps).toBe(0);
  });

  it('tracks origins independently', () => {
    const dedup = new DedupWindow();
    expect(dedup.accept(1, 5)).toBe(true);
    expect(dedup.accept(2, 5)).toBe(true);
    expect(dedup.accept(2 ** 53 - 1, 5)).toBe(true);
    expect(dedup.accept(1, 5)).toBe(false);
    expect(dedup.stats.origins).toBe(3);
  });

  it('stays bounded with 100 000 origins, evicting the least recently seen', () => {
    const maxOrigins = 4096;
    const dedup = new DedupWindow({ maxOrigins });
    dedup.accept(0, 1);
    for (let origin = 1; origin < 100_000; origin += 1) {
      dedup.accept(origin, 1);
      // Origin 0 keeps talking, so it is never the least recently seen.
      if (origin % 1000 === 0) dedup.accept(0, 1 + origin / 1000);
    }
    expect(dedup.stats.origins).toBe(maxOrigins);
    expect(dedup.stats.evicted).toBe(100_000 - maxOrigins);
    // The most recent origins and origin 0 are still remembered...
    expect(dedup.accept(99_999, 1)).toBe(false);
    expect(dedup.accept(100_000 - maxOrigins + 1, 1)).toBe(false);
    expect(dedup.accept(0, 1)).toBe(false);
    // ...and an evicted one starts afresh (the price of bounded memory).
    expect(dedup.accept(1, 1)).toBe(true);
  });

  it('forgets an origin on request', () => {
    const dedup = new DedupWindow();
    dedup.accept(7, 1);
    dedup.accept(8, 1);
    dedup.forget(7);
    dedup.forget(12345); // unknown: no effect
    expect(dedup.stats.origins).toBe(1);
    expect(dedup.accept(7, 1)).toBe(true);
    expect(dedup.accept(8, 1)).toBe(false);
  });

  it('rejects window sizes that do not divide 2^32', () => {
    expect(() => new DedupWindow({ windowSize: 1000 })).toThrow(/power of two/);
    expect(() => new DedupWindow({ windowSize: 16 })).toThrow(/power of two/);
    expect(() => new DedupWindow({ maxOrigins: 0 })).toThrow(/maxOrigins/);
  });
  it('counts the same gaps and duplicates whether the next frame comes from the same origin or another', () => {
    // In-order frames from the origin seen last take a shortcut; interleaving origins avoids it.
    const run = (interleave: boolean): DedupStats => {
      const dedup = new DedupWindow({ windowSize: 32 });
      for (let s = 1; s <= 200; s += 1) {
        if (s % 7 === 0) continue; // lost
        expect(dedup.accept(1, s)).toBe(true);
        if (interleave) dedup.accept(2, s);
        if (s % 5 === 0) expect(dedup.accept(1, s)).toBe(false);
      }
      return dedup.stats;
    };
    const alone = run(false);
    const mixed = run(true);
    expect(alone.duplicates).toBe(40 - 5);
    expect(alone.gaps).toBe(Math.floor((200 - 32) / 7));
    // Origin 2 loses the same frames, and sends no duplicates.
    expect({ gaps: mixed.gaps, duplicates: mixed.duplicates }).toEqual({
      gaps: 2 * alone.gaps,
      duplicates: alone.duplicates,
    });
  });
});
