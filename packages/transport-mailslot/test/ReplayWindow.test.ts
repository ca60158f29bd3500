import { expect, it } from 'vitest';
import { ReplayWindow } from '../src/ReplayWindow.js';

it('accepts each counter once, within the window, across the u32 wrap', () => {
  const w = new ReplayWindow(32, 8);
  const start = 0xffff_fff0;
  for (let i = 0; i < 40; i += 1) expect(w.accept(1, (start + i) >>> 0, 0)).toBe(true);
  expect(w.accept(1, (start + 39) >>> 0, 0)).toBe(false); // repeat
  expect(w.accept(1, (start + 20) >>> 0, 0)).toBe(false); // within window, seen
  expect(w.accept(1, (start + 2) >>> 0, 0)).toBe(false); // slid out of the window
  expect(w.accept(1, (start + 41) >>> 0, 0)).toBe(true); // skipped 40 ...
  expect(w.accept(1, (start + 40) >>> 0, 0)).toBe(true); // ... arrives late, still inside
  expect(w.accept(2, (start + 2) >>> 0, 0)).toBe(true); // other senders are independent
});

it('forgets the least recently seen sender past maxSenders, and idle senders on prune', () => {
  const w = new ReplayWindow(32, 2);
  w.accept(1, 5, 0);
  w.accept(2, 5, 1);
  w.accept(3, 5, 2); // evicts sender 1
  expect(w.evicted).toBe(1);
  expect(w.accept(1, 5, 3)).toBe(true);
  expect(w.accept(3, 5, 3)).toBe(false);
  w.prune(10);
  expect(w.accept(3, 5, 11)).toBe(true);
});
