import { describe, expect, it } from 'vitest';
import { RefCountedOpenings } from '../src/ref-counted-openings.js';

describe('RefCountedOpenings', () => {
  it('opens once per key, shares the value, and reports the last release only', async () => {
    const openings = new RefCountedOpenings<{ id: number }>();
    let opened = 0;
    const open = async (): Promise<{ id: number }> => ({ id: ++opened });
    const [a, b] = await Promise.all([openings.acquire('k', open), openings.acquire('k', open)]);
    expect(opened).toBe(1);
    expect(a.value).toBe(b.value);
    expect(a.release()).toBe(false);
    expect(a.release()).toBe(false); // a second release of the same reference does nothing
    expect(b.release()).toBe(true);
    const c = await openings.acquire('k', open); // released: the next user opens anew
    expect(opened).toBe(2);
    expect(c.value.id).toBe(2);
  });

  it('forgets a failed opening, so the next user tries again', async () => {
    const openings = new RefCountedOpenings<string>();
    await expect(openings.acquire('k', () => Promise.reject(new Error('squatted')))).rejects.toThrow('squatted');
    const ref = await openings.acquire('k', async () => 'ring');
    expect(ref.value).toBe('ring');
    expect(ref.release()).toBe(true);
  });
});
