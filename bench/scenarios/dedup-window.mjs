/**
 * DedupWindow.accept, called for every received frame: in order from one origin, round-robin over
 * many origins, and over more origins than it tracks (evicting). The baseline is the naive answer,
 * a Set of "origin:sequence" strings, which allocates per frame and has no window.
 */
import { DedupWindow } from '@busway/core/internal';

/** Call `op(i)` in batches for `durationMs` after a warm-up; calls per second. */
function rate(op, durationMs) {
  const batch = 8192;
  let i = 0;
  const warm = performance.now() + durationMs / 4;
  while (performance.now() < warm) for (let k = 0; k < batch; k += 1) op(i++);
  let count = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  while (performance.now() < deadline) {
    for (let k = 0; k < batch; k += 1) op(i++);
    count += batch;
  }
  return { msgsPerSec: (count * 1000) / (performance.now() - t0), samples: count };
}

function windowScenario(name, origins, maxOrigins) {
  return {
    name,
    group: 'dedup-window',
    run: ({ durationMs }) => {
      const dedup = new DedupWindow({ maxOrigins });
      let delivered = 0;
      const figures = rate((i) => {
        if (dedup.accept(i % origins, Math.floor(i / origins) >>> 0)) delivered += 1;
      }, durationMs);
      // Every frame is new, so every one must have been delivered: a wrong window shows here.
      if (delivered === 0 || dedup.stats.duplicates !== 0) throw new Error('DedupWindow rejected fresh frames');
      return figures;
    },
  };
}

export const scenarios = [
  {
    name: 'Set of "origin:sequence" strings',
    group: 'dedup-window',
    baseline: true,
    run: ({ durationMs }) => {
      let seen = new Set();
      return rate((i) => {
        const key = `${i % 16}:${Math.floor(i / 16)}`;
        if (!seen.has(key)) seen.add(key);
        // Bound the baseline's memory so the run itself stays bounded; the clear is amortised.
        if (seen.size > 1_000_000) seen = new Set();
      }, durationMs);
    },
  },
  windowScenario('DedupWindow, 1 origin in order', 1, 4096),
  windowScenario('DedupWindow, 1000 origins round-robin', 1000, 4096),
  windowScenario('DedupWindow, 8192 origins over 4096 tracked (evicting)', 8192, 4096),
];
