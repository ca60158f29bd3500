import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestDeadlines } from '../src/request-deadlines.js';

describe('RequestDeadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each key once, at its own deadline, in order', () => {
    const expired: string[] = [];
    const deadlines = new RequestDeadlines<string>((key) => expired.push(key));
    deadlines.arm('a', 1000);
    vi.advanceTimersByTime(300);
    deadlines.arm('b', 1000);
    deadlines.arm('c', 50);
    vi.advanceTimersByTime(49);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['c']);
    vi.advanceTimersByTime(649); // t = 999
    expect(expired).toEqual(['c']);
    vi.advanceTimersByTime(1); // t = 1000
    expect(expired).toEqual(['c', 'a']);
    vi.advanceTimersByTime(300); // t = 1300
    expect(expired).toEqual(['c', 'a', 'b']);
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual(['c', 'a', 'b']);
  });

  it('counts a re-armed key from the re-arm, and never expires a disarmed one', () => {
    const expired: number[] = [];
    const deadlines = new RequestDeadlines<number>((key) => expired.push(key));
    deadlines.arm(1, 1000);
    deadlines.arm(2, 1000);
    vi.advanceTimersByTime(800);
    deadlines.arm(1, 1000); // a sign of life: now due at t = 1800
    deadlines.disarm(2, 1000);
    vi.advanceTimersByTime(999); // t = 1799
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([1]);
  });

  it('keeps one timer per timeout value, however many keys are armed', () => {
    const deadlines = new RequestDeadlines<number>(() => undefined);
    for (let key = 0; key < 1000; key += 1) {
      deadlines.arm(key, 5000);
      if (key % 2 === 0) deadlines.disarm(key, 5000);
    }
    deadlines.arm(-1, 7000);
    expect(vi.getTimerCount()).toBe(2);
  });

  it('arms a key from inside onExpire without a second timer or a lost deadline', () => {
    const expired: number[] = [];
    const deadlines = new RequestDeadlines<number>((key) => {
      expired.push(key);
      if (key < 3) deadlines.arm(key + 1, 100); // a caller retrying on timeout
    });
    deadlines.arm(1, 100);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([1]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([1, 2]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([1, 2, 3]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never expires an infinite timeout, and clear() stops everything', () => {
    const expired: number[] = [];
    const deadlines = new RequestDeadlines<number>((key) => expired.push(key));
    deadlines.arm(1, Number.POSITIVE_INFINITY);
    deadlines.arm(2, 100);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000_000);
    expect(expired).toEqual([]);
  });
});
