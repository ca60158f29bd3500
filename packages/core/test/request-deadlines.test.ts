import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestDeadlines, type Timed } from '../src/request-deadlines.js';

interface Entry extends Timed {
  readonly name: string;
}

const entry = (name: string): Entry => ({ name, deadline: -1 });

describe('RequestDeadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each entry once, at its own deadline, in order', () => {
    const expired: string[] = [];
    const deadlines = new RequestDeadlines<Entry>((e) => expired.push(e.name));
    const [a, b, c] = [entry('a'), entry('b'), entry('c')];
    deadlines.arm(a, 1000);
    vi.advanceTimersByTime(300);
    deadlines.arm(b, 1000);
    deadlines.arm(c, 50);
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

  it('counts a re-armed entry from the re-arm, and never expires a disarmed one', () => {
    const expired: string[] = [];
    const deadlines = new RequestDeadlines<Entry>((e) => expired.push(e.name));
    const [one, two] = [entry('1'), entry('2')];
    deadlines.arm(one, 1000);
    deadlines.arm(two, 1000);
    vi.advanceTimersByTime(800);
    deadlines.arm(one, 1000); // a sign of life: now due at t = 1800
    deadlines.disarm(two, 1000);
    vi.advanceTimersByTime(999); // t = 1799
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['1']);
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual(['1']);
  });

  it('does not let a re-armed entry hold back those armed between its two deadlines', () => {
    const expired: string[] = [];
    const deadlines = new RequestDeadlines<Entry>((e) => expired.push(e.name));
    const [a, b] = [entry('a'), entry('b')];
    deadlines.arm(a, 1000); // first place of a: due at 1000, stale after the re-arm
    vi.advanceTimersByTime(100);
    deadlines.arm(b, 1000); // due at 1100
    vi.advanceTimersByTime(100);
    deadlines.arm(a, 1000); // due at 1200
    vi.advanceTimersByTime(900); // t = 1100
    expect(expired).toEqual(['b']);
    vi.advanceTimersByTime(100); // t = 1200
    expect(expired).toEqual(['b', 'a']);
  });

  it('keeps one timer per timeout value, however many entries are armed', () => {
    const deadlines = new RequestDeadlines<Entry>(() => undefined);
    for (let key = 0; key < 1000; key += 1) {
      const e = entry(String(key));
      deadlines.arm(e, 5000);
      if (key % 2 === 0) deadlines.disarm(e, 5000);
    }
    deadlines.arm(entry('-1'), 7000);
    expect(vi.getTimerCount()).toBe(2);
  });

  it('expires the live entries of many settled out of order, each once and in order', () => {
    // Disarmed entries stay as stale places in the queue until it is compacted or emptied.
    const expired: string[] = [];
    const deadlines = new RequestDeadlines<Entry>((e) => expired.push(e.name));
    const entries = Array.from({ length: 5000 }, (_, i) => entry(String(i)));
    for (const e of entries) {
      deadlines.arm(e, 1000);
      vi.advanceTimersByTime(0.1);
    }
    const kept = entries.filter((_, i) => i % 7 === 3);
    for (const [i, e] of entries.entries()) if (i % 7 !== 3) deadlines.disarm(e, 1000);
    for (const e of entries.slice(0, 100)) if (!kept.includes(e)) deadlines.disarm(e, 1000); // again: does nothing
    const late = entry('late');
    deadlines.arm(late, 1000); // the queue, mostly stale places now, is compacted here
    vi.advanceTimersByTime(2000);
    expect(expired).toEqual([...kept, late].map((e) => e.name));
    expect(kept.every((e) => e.deadline === -1)).toBe(true);
    // Armed again after expiring: counted as new.
    deadlines.arm(entries[0] as Entry, 1000);
    vi.advanceTimersByTime(1000);
    expect(expired.at(-1)).toBe('0');
  });

  it('arms an entry from inside onExpire without a second timer or a lost deadline', () => {
    const expired: string[] = [];
    const entries = [entry('1'), entry('2'), entry('3')];
    const deadlines = new RequestDeadlines<Entry>((e) => {
      expired.push(e.name);
      const next = entries[Number(e.name)];
      if (next !== undefined) deadlines.arm(next, 100); // a caller retrying on timeout
    });
    deadlines.arm(entries[0] as Entry, 100);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['1']);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['1', '2']);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['1', '2', '3']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('disarms another entry from inside onExpire', () => {
    const expired: string[] = [];
    const [a, b] = [entry('a'), entry('b')];
    const deadlines = new RequestDeadlines<Entry>((e) => {
      expired.push(e.name);
      deadlines.disarm(b, 100); // a (due first) settling b meanwhile, as failing a stream can
    });
    deadlines.arm(a, 100);
    vi.advanceTimersByTime(10);
    deadlines.arm(b, 100);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual(['a']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never expires an infinite timeout, and clear() stops everything', () => {
    const expired: string[] = [];
    const deadlines = new RequestDeadlines<Entry>((e) => expired.push(e.name));
    deadlines.arm(entry('1'), Number.POSITIVE_INFINITY);
    deadlines.arm(entry('2'), 100);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000_000);
    expect(expired).toEqual([]);
  });
});
