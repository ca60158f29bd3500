import { describe, expect, it } from 'vitest';
import { AUTH_TRAILER_SIZE, FrameAuthenticator } from '../src/FrameAuthenticator.js';

const KEY = 'a shared key of 32 bytes........';

function pair(now: () => number = () => 1_000_000) {
  const alice = new FrameAuthenticator(KEY, 'orders', 7, { now });
  const bob = new FrameAuthenticator(KEY, 'orders', 9, { now });
  return { alice, bob };
}

describe('FrameAuthenticator', () => {
  it('round-trips a body and names the sender', () => {
    const { alice, bob } = pair();
    const sealed = alice.seal(new Uint8Array([1, 2, 3]));
    expect(sealed.length).toBe(3 + AUTH_TRAILER_SIZE);
    const opened = bob.open(sealed);
    expect(opened).toEqual({ ok: true, body: new Uint8Array([1, 2, 3]), sender: 7 });
  });

  it('rejects any altered byte, a wrong key, another bus, and short datagrams', () => {
    const { alice, bob } = pair();
    const sealed = alice.seal(new Uint8Array(40).fill(5));
    for (let i = 0; i < sealed.length; i += 1) {
      const copy = sealed.slice();
      copy[i] = (copy[i] as number) ^ 1;
      expect(bob.open(copy)).toEqual({ ok: false, reason: 'unauthenticated' });
    }
    const otherKey = new FrameAuthenticator('another key of 32 bytes.........', 'orders', 9, { now: () => 1_000_000 });
    expect(otherKey.open(alice.seal(new Uint8Array(4)))).toEqual({ ok: false, reason: 'unauthenticated' });
    const otherBus = new FrameAuthenticator(KEY, 'invoices', 9, { now: () => 1_000_000 });
    expect(otherBus.open(alice.seal(new Uint8Array(4)))).toEqual({ ok: false, reason: 'unauthenticated' });
    expect(bob.open(new Uint8Array(AUTH_TRAILER_SIZE - 1))).toEqual({ ok: false, reason: 'unauthenticated' });
  });

  it('rejects a replay of an authentic datagram, accepts reordering within the window', () => {
    const { alice, bob } = pair();
    const first = alice.seal(new Uint8Array([1]));
    const second = alice.seal(new Uint8Array([2]));
    expect(bob.open(second).ok).toBe(true);
    expect(bob.open(first).ok).toBe(true); // reordered, still fresh
    expect(bob.open(first)).toEqual({ ok: false, reason: 'replayed' });
    expect(bob.open(second)).toEqual({ ok: false, reason: 'replayed' });
  });

  it('rejects datagrams older (or newer) than maxAgeMs', () => {
    let now = 1_000_000;
    const alice = new FrameAuthenticator(KEY, 'orders', 7, { now: () => now });
    const bob = new FrameAuthenticator(KEY, 'orders', 9, { now: () => now, maxAgeMs: 5000 });
    const sealed = alice.seal(new Uint8Array([1]));
    now += 5001;
    expect(bob.open(sealed)).toEqual({ ok: false, reason: 'replayed' });
    const future = alice.seal(new Uint8Array([2]));
    now -= 10_002;
    expect(bob.open(future)).toEqual({ ok: false, reason: 'replayed' });
  });

  it('a forged datagram cannot advance the replay window (no poisoning)', () => {
    const { alice, bob } = pair();
    const real = alice.seal(new Uint8Array([1]));
    // The attacker copies a real trailer but sets a far-future counter: the tag no longer matches.
    const forged = real.slice();
    const view = new DataView(forged.buffer, 1, AUTH_TRAILER_SIZE);
    view.setUint32(8, 5000);
    expect(bob.open(forged)).toEqual({ ok: false, reason: 'unauthenticated' });
    // Had it advanced the window, counter 0 would now be "too old".
    expect(bob.open(real).ok).toBe(true);
  });

  it('refuses short keys', () => {
    expect(() => new FrameAuthenticator('short', 'orders', 1)).toThrow(/at least 16 bytes/);
  });
});
