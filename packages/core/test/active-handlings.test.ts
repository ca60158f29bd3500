import { describe, expect, it } from 'vitest';
import { ActiveHandlings } from '../src/active-handlings.js';

interface Entry {
  readonly requester: number;
  readonly correlation: number;
  readonly name: string;
}

const entry = (requester: number, correlation: number, name = `${requester}/${correlation}`): Entry => ({
  requester,
  correlation,
  name,
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
