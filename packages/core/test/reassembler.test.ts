import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, FrameKind, type Envelope } from '../src/envelope.js';
import { fragmentEnvelope } from '../src/fragmenter.js';
import { MESSAGE_COST, Reassembler } from '../src/reassembler.js';

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** Fragments of a `length`-byte message from `origin`, first sequence `first`, 100 payload bytes each. */
function fragments(origin: number, first: number, length: number): Envelope[] {
  let seq = first;
  const payload = Uint8Array.from({ length }, (_, i) => i & 0xff);
  const overhead = encodeEnvelope({ kind: FrameKind.Publish, origin, sequence: 0, topic: 'big' }).length;
  return fragmentEnvelope(
    { kind: FrameKind.Publish, origin, sequence: first, topic: 'big', payload },
    overhead + 100,
    () => (seq = (seq + 1) >>> 0),
  ).map((f) => decodeEnvelope(f));
}

/** A fragment envelope made up directly, for cases the fragmenter never produces. */
function fakeFragment(index: number, count: number, payloadLength: number): Envelope {
  return decodeEnvelope(
    encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 1,
      sequence: 100 + index,
      topic: 'x',
      fragmentIndex: index,
      fragmentCount: count,
      payload: new Uint8Array(payloadLength),
    }),
  );
}

describe('Reassembler', () => {
  it('returns an unfragmented envelope unchanged', () => {
    const env = decodeEnvelope(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 1, topic: 'a' }));
    const reassembler = new Reassembler();
    expect(reassembler.accept(env)).toBe(env);
    expect(reassembler.stats.pending).toBe(0);
  });

  it('copies fragment payloads: reusing the inbound buffer does not corrupt the message', () => {
    const parts = fragments(1, 0, 250);
    const reassembler = new Reassembler();
    reassembler.accept(parts[0] as Envelope);
    reassembler.accept(parts[1] as Envelope);
    for (const p of parts.slice(0, 2)) p.payload.fill(0xee); // what a reused transport buffer would do
    const whole = reassembler.accept(parts[2] as Envelope);
    expect(Array.from(whole?.payload ?? [])).toEqual(Array.from({ length: 250 }, (_, i) => i & 0xff));
    reassembler.close();
  });

  it('copies payloads that are Node Buffers too (whose slice() is a view)', () => {
    const parts = fragments(1, 0, 250).map((env) => ({ ...env, payload: Buffer.from(env.payload) }));
    const reassembler = new Reassembler();
    reassembler.accept(parts[0] as Envelope);
    reassembler.accept(parts[1] as Envelope);
    for (const p of parts.slice(0, 2)) p.payload.fill(0xee);
    const whole = reassembler.accept(parts[2] as Envelope);
    expect(Array.from(whole?.payload ?? [])).toEqual(Array.from({ length: 250 }, (_, i) => i & 0xff));
  });

  it('keeps interleaved messages of different origins and first sequences apart, across the u32 wrap', () => {
    const a = fragments(1, 2 ** 32 - 2, 300); // sequences 2^32-2, 2^32-1, 0
    const b = fragments(2, 2 ** 32 - 2, 300);
    const c = fragments(1, 5, 300);
    const reassembler = new Reassembler();
    const done: Envelope[] = [];
    for (let i = 0; i < 3; i += 1) {
      for (const msg of [c, b, a]) {
        const whole = reassembler.accept(msg[i] as Envelope);
        if (whole) done.push(whole);
      }
    }
    expect(done.map((e) => [e.origin, e.sequence, e.payload.length])).toEqual([
      [1, 5, 300],
      [2, 2 ** 32 - 2, 300],
      [1, 2 ** 32 - 2, 300],
    ]);
    expect(reassembler.stats).toMatchObject({ pending: 0, pendingBytes: 0 });
  });

  it('ignores a repeated fragment', () => {
    const parts = fragments(1, 0, 250);
    const reassembler = new Reassembler();
    expect(reassembler.accept(parts[0] as Envelope)).toBeUndefined();
    expect(reassembler.accept(parts[0] as Envelope)).toBeUndefined();
    expect(reassembler.accept(parts[1] as Envelope)).toBeUndefined();
    expect(reassembler.accept(parts[2] as Envelope)?.payload.length).toBe(250);
    expect(reassembler.stats).toMatchObject({ ignored: 1, pending: 0 });
  });

  it('expires an incomplete message after timeoutMs from its first fragment, and counts it', () => {
    testScheduler().run(({ flush }) => {
      const reassembler = new Reassembler({ timeoutMs: 1000 }); // default scheduler: virtual inside run()
      const parts = fragments(1, 0, 250);
      reassembler.accept(parts[0] as Envelope);
      expect(reassembler.stats).toMatchObject({ pending: 1, pendingBytes: MESSAGE_COST + 3 * 8 + 100 });
      flush();
      expect(reassembler.stats).toMatchObject({ expired: 1, pending: 0, pendingBytes: 0 });
      // The late fragments start a new incomplete message, which also expires.
      reassembler.accept(parts[1] as Envelope);
      reassembler.accept(parts[2] as Envelope);
      expect(reassembler.stats.pending).toBe(1);
      flush();
      expect(reassembler.stats).toMatchObject({ expired: 2, pending: 0 });
    });
  });

  it('completes a message whose last fragment arrives just before the timeout', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const reassembler = new Reassembler({ timeoutMs: 1000, scheduler });
      const parts = fragments(1, 0, 250);
      reassembler.accept(parts[0] as Envelope);
      reassembler.accept(parts[1] as Envelope);
      const accepted: (number | undefined)[] = [];
      // At 999 ms the message is still pending; at 1000 ms it has expired.
      cold('999ms a', { a: 2 }).subscribe((i) =>
        accepted.push(reassembler.accept(parts[i] as Envelope)?.payload.length),
      );
      flush();
      expect(accepted).toEqual([250]);
      expect(reassembler.stats.expired).toBe(0);
    });
  });

  it('expires at exactly timeoutMs', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const reassembler = new Reassembler({ timeoutMs: 1000, scheduler });
      const parts = fragments(1, 0, 250);
      reassembler.accept(parts[0] as Envelope);
      const seen: number[] = [];
      cold('999ms a 999ms b', { a: 0, b: 0 }).subscribe(() => seen.push(reassembler.stats.expired));
      flush();
      expect(seen).toEqual([0, 1]);
    });
  });

  it('close() cancels the expiry timers', () => {
    testScheduler().run(({ flush }) => {
      const reassembler = new Reassembler({ timeoutMs: 1000 });
      reassembler.accept(fragments(1, 0, 250)[0] as Envelope);
      reassembler.close();
      flush();
      expect(reassembler.stats).toMatchObject({ expired: 0, pending: 0, pendingBytes: 0 });
    });
  });

  it('drops a message that would exceed maxPendingBytes, and ignores its later fragments', () => {
    testScheduler().run(({ flush }) => {
      const reassembler = new Reassembler({ maxPendingBytes: MESSAGE_COST + 3 * 8 + 250 });
      const a = fragments(1, 0, 250);
      const b = fragments(2, 0, 250);
      reassembler.accept(a[0] as Envelope);
      reassembler.accept(a[1] as Envelope); // overhead + 200 held
      expect(reassembler.accept(b[0] as Envelope)).toBeUndefined(); // a second overhead would pass the cap
      expect(reassembler.stats).toMatchObject({ dropped: 1, pending: 1, pendingBytes: MESSAGE_COST + 24 + 200 });
      expect(reassembler.accept(b[1] as Envelope)).toBeUndefined();
      expect(reassembler.accept(b[2] as Envelope)).toBeUndefined();
      expect(reassembler.accept(a[2] as Envelope)?.payload.length).toBe(250);
      expect(reassembler.stats).toMatchObject({ dropped: 1, pending: 0, pendingBytes: 0 });
      flush(); // the tombstone of b goes away without being counted as expired
      expect(reassembler.stats).toMatchObject({ dropped: 1, expired: 0 });
    });
  });

  it('drops a message mid-way when its next fragment would pass the cap, releasing what it held', () => {
    const reassembler = new Reassembler({ maxPendingBytes: MESSAGE_COST + 3 * 8 + 150 });
    const a = fragments(1, 0, 250);
    reassembler.accept(a[0] as Envelope);
    expect(reassembler.stats.pendingBytes).toBe(MESSAGE_COST + 24 + 100);
    reassembler.accept(a[1] as Envelope);
    expect(reassembler.stats).toMatchObject({ dropped: 1, pending: 0, pendingBytes: 0 });
    expect(reassembler.accept(a[2] as Envelope)).toBeUndefined();
  });

  it('forgets a dropped message after its timeout: a fragment with the same key starts afresh', () => {
    testScheduler().run(({ cold, flush }) => {
      const reassembler = new Reassembler({ timeoutMs: 1000, maxMessageSize: 100 });
      const a = fragments(1, 0, 250);
      reassembler.accept(a[0] as Envelope);
      reassembler.accept(a[1] as Envelope); // 200 > maxMessageSize: dropped
      const pending: number[] = [];
      cold('999ms a 1ms b', { a: 2, b: 2 }).subscribe((i) => {
        reassembler.accept(a[i] as Envelope);
        pending.push(reassembler.stats.pending);
      });
      flush();
      // At 999 ms the late fragment is ignored; at 1000 ms the tombstone is gone and it starts a message.
      expect(pending).toEqual([0, 1]);
      expect(reassembler.stats.dropped).toBe(1);
      reassembler.close();
    });
  });

  it('remembers a bounded number of dropped messages', () => {
    const reassembler = new Reassembler({ maxMessageSize: 100 });
    // 5000 messages dropped on their second fragment: more than the 4096 tombstones kept.
    for (let m = 0; m < 5000; m += 1) {
      const parts = fragments(1, m * 3, 250);
      reassembler.accept(parts[0] as Envelope);
      reassembler.accept(parts[1] as Envelope);
    }
    expect(reassembler.stats).toMatchObject({ dropped: 5000, pending: 0, pendingBytes: 0 });
    // The newest drop is still remembered, the oldest was forgotten.
    reassembler.accept(fragments(1, 4999 * 3, 250)[2] as Envelope);
    expect(reassembler.stats.pending).toBe(0);
    reassembler.accept(fragments(1, 0, 250)[2] as Envelope);
    expect(reassembler.stats.pending).toBe(1);
    reassembler.close();
  });

  it('rejects a message announcing 2^32 - 1 fragments before allocating a slot array for it', () => {
    const reassembler = new Reassembler();
    // Slot bookkeeping alone (8 bytes each) is far over 64 MiB: refused without allocating it.
    expect(reassembler.accept(fakeFragment(0, 0xffff_ffff, 10))).toBeUndefined();
    expect(reassembler.stats).toMatchObject({ dropped: 1, pending: 0, pendingBytes: 0 });
  });

  it('drops a message larger than maxMessageSize', () => {
    const reassembler = new Reassembler({ maxMessageSize: 200 });
    const a = fragments(1, 0, 250);
    reassembler.accept(a[0] as Envelope);
    reassembler.accept(a[1] as Envelope);
    expect(reassembler.accept(a[2] as Envelope)).toBeUndefined();
    expect(reassembler.stats).toMatchObject({ dropped: 1, pending: 0, pendingBytes: 0 });
  });

  it('ignores a fragment disagreeing with its message on the fragment count', () => {
    const reassembler = new Reassembler();
    reassembler.accept(fakeFragment(0, 3, 10));
    expect(reassembler.accept(fakeFragment(1, 4, 10))).toBeUndefined(); // same first sequence (100)
    expect(reassembler.stats).toMatchObject({ ignored: 1, pending: 1 });
    reassembler.close();
  });

  it('refuses nonsensical limits', () => {
    expect(() => new Reassembler({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new Reassembler({ maxPendingBytes: -1 })).toThrow(/maxPendingBytes/);
  });
});
