import { describe, expect, it } from 'vitest';
import { ActiveHandlings } from '../src/active-handlings.js';

interface Entry {
  readonly requester: number;
  readonly correlation: number;
  readonly name: string;
  held: boolean;
}

const entry = (requester: number, correlation: number, name = `${requester}/${correlation}`): Entry => ({
  requester,
  correlation,
  name,
  held: false,
});

describe('ActiveHandlings', () => {
  it('keeps entries apart by requester and correlation', () => {
    const active = new ActiveHandlings<Entry>();
    const a = entry(1, 7);
    const b = entry(2, 7);
    const c = entry(1, 8);
    active.add(a);
    active.add(b);
    active.add(c);
    expect(active.get(1, 7)).toBe(a);
    expect(active.get(2, 7)).toBe(b);
    expect(active.get(1, 8)).toBe(c);
    expect(active.get(2, 8)).toBeUndefined();
    expect(active.get(3, 7)).toBeUndefined();
  });

  it('tells whether an entry is still the one registered for its request', () => {
    const active = new ActiveHandlings<Entry>();
    const first = entry(1, 7, 'first');
    const second = entry(1, 7, 'second');
    active.add(first);
    expect(active.holds(first)).toBe(true);
    active.add(second);
    expect(active.holds(first)).toBe(false);
    expect(active.holds(second)).toBe(true);
    active.remove(1, 7);
    expect(active.holds(second)).toBe(false);
  });

  it('removes one request and returns it, once', () => {
    const active = new ActiveHandlings<Entry>();
    const a = entry(1, 7);
    active.add(a);
    active.add(entry(1, 8));
    expect(active.remove(1, 7)).toBe(a);
    expect(active.remove(1, 7)).toBeUndefined();
    expect(active.remove(9, 9)).toBeUndefined();
    expect(active.get(1, 8)?.name).toBe('1/8');
  });

  it('removes every request of a requester that left, and only those', () => {
    const active = new ActiveHandlings<Entry>();
    active.add(entry(1, 7));
    active.add(entry(1, 8));
    active.add(entry(2, 7));
    expect(
      active
        .removeRequester(1)
        .map((e) => e.name)
        .sort(),
    ).toEqual(['1/7', '1/8']);
    expect(active.get(1, 7)).toBeUndefined();
    expect(active.get(2, 7)?.name).toBe('2/7');
    expect(active.removeRequester(1)).toEqual([]);
  });

  it('removes everything at once', () => {
    const active = new ActiveHandlings<Entry>();
    active.add(entry(1, 7));
    active.add(entry(2, 7));
    expect(active.removeAll()).toHaveLength(2);
    expect(active.get(1, 7)).toBeUndefined();
    expect(active.removeAll()).toEqual([]);
  });

  it('still finds live requests after many requesters came and went (idle ones are swept)', () => {
    const active = new ActiveHandlings<Entry>();
    const live = entry(0, 1);
    active.add(live);
    for (let requester = 1; requester <= 10_000; requester += 1) {
      active.add(entry(requester, 1));
      active.remove(requester, 1);
    }
    expect(active.get(0, 1)).toBe(live);
    expect(active.get(5000, 1)).toBeUndefined();
    active.add(entry(5000, 2));
    expect(active.get(5000, 2)?.name).toBe('5000/2');
  });
});

describe('ActiveHandlings claim and release', () => {
  it('claims a request only once, and keeps held in step with what is registered', () => {
    const active = new ActiveHandlings<Entry>();
    const first = entry(1, 7, 'first');
    const duplicate = entry(1, 7, 'duplicate');
    expect(active.claim(first)).toBe(true);
    expect(first.held).toBe(true);
    expect(active.claim(duplicate)).toBe(false);
    expect(duplicate.held).toBe(false);
    expect(active.get(1, 7)).toBe(first);
    active.release(first);
    expect(first.held).toBe(false);
    expect(active.get(1, 7)).toBeUndefined();
    active.release(first); // again: nothing
    expect(active.claim(duplicate)).toBe(true);
    expect(active.get(1, 7)).toBe(duplicate);
  });

  it('release() leaves alone a later entry registered under the same request', () => {
    const active = new ActiveHandlings<Entry>();
    const first = entry(1, 7, 'first');
    const second = entry(1, 7, 'second');
    active.add(first);
    active.add(second); // replaces first
    expect(first.held).toBe(false);
    active.release(first);
    expect(active.get(1, 7)).toBe(second);
    expect(second.held).toBe(true);
  });

  it('clears held on every way out: remove, removeRequester, removeAll', () => {
    const active = new ActiveHandlings<Entry>();
    const [a, b, c, d] = [entry(1, 1), entry(1, 2), entry(2, 1), entry(3, 1)];
    for (const e of [a, b, c, d]) active.claim(e);
    active.remove(3, 1);
    expect(d.held).toBe(false);
    active.removeRequester(1);
    expect([a.held, b.held, c.held]).toEqual([false, false, true]);
    // The requester looked up last is gone: a new request of it starts a fresh registration.
    const again = entry(1, 1, 'again');
    expect(active.claim(again)).toBe(true);
    expect(active.get(1, 1)).toBe(again);
    expect(active.removeAll()).toHaveLength(2);
    expect([again.held, c.held]).toEqual([false, false]);
    expect(active.get(1, 1)).toBeUndefined();
    expect(active.claim(entry(2, 1))).toBe(true);
  });
});
