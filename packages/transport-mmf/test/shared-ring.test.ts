import { FrameTooLargeError } from '@busway/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClaimAbandonedError, RingMismatchError } from '../src/errors.js';
import { RingReader } from '../src/ring-reader.js';
import { RING_HEADER_SIZE, RingOffset, recordSize } from '../src/ring-layout.js';
import { SharedRing } from '../src/shared-ring.js';
import { announceSleep, sleepHeader } from '../src/sleep-protocol.js';

const CAPACITY = 4096;

function newRing(capacity = CAPACITY, initialPosition = 0, initialSequence = 0): SharedRing {
  return SharedRing.format(new ArrayBuffer(RING_HEADER_SIZE + capacity), { initialPosition, initialSequence });
}

/** A payload whose bytes all derive from (writer, n), so any tear or mix-up is visible. */
function payload(writer: number, n: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (writer * 31 + n * 7 + i) & 0xff;
  return bytes;
}

function drain(reader: RingReader, budget = 1_000_000): Uint8Array[] {
  const out: Uint8Array[] = [];
  reader.poll((bytes) => out.push(bytes.slice()), budget);
  return out;
}

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('SharedRing and RingReader', () => {
  it('delivers records in order with their exact bytes, empty ones included', () => {
    const ring = newRing();
    const reader = new RingReader(ring);
    const sent = [payload(1, 0, 0), payload(1, 1, 1), payload(1, 2, 64), payload(1, 3, 1000)];
    for (const p of sent) ring.publish(p);
    expect(drain(reader)).toEqual(sent);
    expect(reader.poll(() => undefined)).toBe('idle');
    expect(reader.stats()).toEqual({ delivered: 4, lost: 0, abandoned: 0 });
  });

  it('copies records of every size class exactly: odd lengths, word-loop and memcpy paths, growing buffers', () => {
    const ring = newRing(1 << 16);
    const reader = new RingReader(ring);
    for (const length of [1, 2, 3, 5, 511, 512, 513, 1023, 1025, 3001, 7777, 16_000, 4, 0]) {
      const bytes = payload(2, length, length);
      ring.publish(bytes);
      expect(drain(reader)).toEqual([bytes]);
    }
  });

  it('a reader sees only what is published after it joined, and skips its own writer tag', () => {
    const ring = newRing();
    ring.publish(payload(1, 0, 10));
    const other = SharedRing.attach(ring.buffer);
    const reader = new RingReader(ring, { skipWriterTag: ring.writerTag });
    ring.publish(payload(1, 1, 10));
    other.publish(payload(2, 2, 10));
    expect(other.writerTag).not.toBe(ring.writerTag);
    expect(drain(reader)).toEqual([payload(2, 2, 10)]);
  });

  it('keeps per-writer order and delivers every record once when claims of two writers interleave', () => {
    const ring = newRing(1 << 16);
    const second = SharedRing.attach(ring.buffer);
    const reader = new RingReader(ring);
    const expected: Uint8Array[] = [];
    // A claims, B claims and commits, A commits: the reader must wait for A, then read A, B.
    for (let n = 0; n < 50; n++) {
      const a = ring.claim(33);
      const bBytes = payload(2, n, 17);
      second.publish(bBytes);
      expect(reader.poll(() => undefined)).toBe('pending');
      const aBytes = payload(1, n, 33);
      const first = a.parts[0] ?? new Uint8Array(0);
      first.set(aBytes.subarray(0, first.length));
      a.parts[1]?.set(aBytes.subarray(first.length));
      ring.commit(a);
      expected.push(aBytes, bBytes);
      expect(drain(reader)).toEqual(expected.splice(0));
    }
  });

  it('claims distinct, contiguous positions under contention (compare-and-swap retries)', () => {
    const ring = newRing(1 << 16);
    const writers = [ring, SharedRing.attach(ring.buffer), SharedRing.attach(ring.buffer)];
    const claims = [];
    for (let n = 0; n < 60; n++) {
      const writer = writers[n % 3] as SharedRing;
      claims.push(writer.claim(n));
    }
    for (let n = 1; n < claims.length; n++) {
      const prev = claims[n - 1]!;
      expect(claims[n]!.position).toBe(prev.position + recordSize(prev.length));
      expect(claims[n]!.sequence).toBe(prev.sequence + 1);
    }
    for (const claim of claims.reverse()) ring.commit(claim);
  });

  it('wraps positions and sequences past 2^32', () => {
    const start = 2 ** 32 - 2 * CAPACITY;
    const ring = newRing(CAPACITY, start, 2 ** 32 - 40);
    const reader = new RingReader(ring);
    const writer = SharedRing.attach(ring.buffer);
    for (let n = 0; n < 400; n++) {
      const bytes = payload(3, n, (n * 37) % 300);
      writer.publish(bytes);
      expect(drain(reader)).toEqual([bytes]);
    }
    const [position, sequence] = ring.loadClaim();
    expect(position).toBeLessThan(start); // wrapped
    expect(sequence).toBeLessThan(400);
    expect(reader.stats()).toEqual({ delivered: 400, lost: 0, abandoned: 0 });
  });

  it("a member's reader steps over its own back-to-back records and still reads every other writer's, across 2^32", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 700 })), { minLength: 1, maxLength: 60 }),
        // At most 4 records of at most 716 bytes between polls: never a ring behind, nothing lost.
        fc.integer({ min: 1, max: 4 }),
        (steps, pollEvery) => {
          const own = newRing(CAPACITY, 2 ** 32 - CAPACITY, 2 ** 32 - 20);
          const other = SharedRing.attach(own.buffer);
          const reader = new RingReader(own, { skipWriterTag: own.writerTag });
          const expected: Uint8Array[] = [];
          const got: Uint8Array[] = [];
          steps.forEach(([mine, length], n) => {
            const bytes = payload(mine ? 7 : 8, n, length);
            if (mine) own.publish(bytes);
            else {
              other.publish(bytes);
              expected.push(bytes);
            }
            if (n % pollEvery === 0) got.push(...drain(reader));
          });
          got.push(...drain(reader));
          expect(got).toEqual(expected);
          expect(reader.stats()).toEqual({ delivered: expected.length, lost: 0, abandoned: 0 });
          expect(reader.cursor.sequence).toBe(own.loadClaim()[1]);
        },
      ),
    );
  });

  it('splits a payload that straddles the end of the ring and reassembles it', () => {
    // 8192-byte ring: 4 records of 2000 bytes (2016 each) end at 8064; a 1000-byte record's
    // header is at 8064..8080 and its payload runs 8080..9080, across the end.
    const ring = newRing(8192);
    const reader = new RingReader(ring);
    for (let n = 0; n < 4; n++) ring.publish(payload(4, n, 2000));
    expect(drain(reader)).toHaveLength(4);
    const straddling = payload(4, 9, 1000);
    const claim = ring.claim(straddling.length);
    expect(claim.parts.map((p) => p.length)).toEqual([112, 888]);
    claim.parts[0]?.set(straddling.subarray(0, 112));
    claim.parts[1]?.set(straddling.subarray(112));
    ring.commit(claim);
    expect(drain(reader)).toEqual([straddling]);
    // and through publish(): 3 more records of 2000 from 9088 end at 15136 (index 6944); the
    // next payload runs 6960..8960, across the end again
    for (let n = 0; n < 3; n++) ring.publish(payload(4, 20 + n, 2000));
    ring.publish(payload(4, 30, 2000));
    expect(drain(reader).at(-1)).toEqual(payload(4, 30, 2000));
  });

  it('a reader that falls more than a ring behind skips ahead and counts exactly what it lost', () => {
    const ring = newRing();
    const reader = new RingReader(ring);
    const size = recordSize(100);
    const count = Math.ceil((2 * CAPACITY) / size);
    for (let n = 0; n < count; n++) ring.publish(payload(5, n, 100));
    expect(drain(reader)).toEqual([]);
    expect(reader.stats()).toEqual({ delivered: 0, lost: count, abandoned: 0 });
    ring.publish(payload(5, 999, 100));
    expect(drain(reader)).toEqual([payload(5, 999, 100)]);
  });

  describe('a reader more than 2^32 bytes behind counts what it missed as lost, at once', () => {
    // 1024-byte records in a 4 KiB ring. Writing 4 GiB would take a minute: the cursor is moved
    // to where 2^22 - 4 such records would have left it (2^32 - 4096), then real records follow,
    // so the ring holds exactly what writers would have left there.
    for (const extra of [0, 2048]) {
      it(`2^32 + ${extra} bytes behind`, () => {
        const clock = manualClock(); // never advances: a stuck reader would stay 'pending'
        const ring = newRing();
        const reader = new RingReader(ring, { now: clock.now });
        const length = ring.maxPayload; // records of exactly 1024 bytes
        const skipped = (2 ** 32 - CAPACITY) / recordSize(length);
        new BigInt64Array(ring.buffer, 0, 32)[RingOffset.claim >> 3] =
          BigInt(2 ** 32 - CAPACITY) | (BigInt(skipped) << 32n);
        const written = (CAPACITY + extra) / recordSize(length);
        for (let n = 0; n < written; n++) ring.publish(payload(5, n, length));
        expect(ring.loadClaim()).toEqual([extra, skipped + written]);
        expect(reader.poll(() => expect.unreachable())).toBe('idle');
        expect(reader.stats()).toEqual({ delivered: 0, lost: skipped + written, abandoned: 0 });
        ring.publish(payload(5, 999, 100));
        expect(drain(reader)).toEqual([payload(5, 999, 100)]);
      });
    }
  });

  it('a reader exactly one ring behind still reads everything', () => {
    const ring = newRing();
    const reader = new RingReader(ring);
    const length = 256 - 16; // records of exactly 256 bytes: 16 fill the ring
    for (let n = 0; n < 16; n++) ring.publish(payload(6, n, length));
    const got = drain(reader);
    expect(got).toHaveLength(16);
    expect(reader.stats().lost).toBe(0);
  });

  it('declares a claim abandoned after abandonAfterMs, skips it, and the late writer is told', () => {
    const clock = manualClock();
    const ring = newRing();
    const other = SharedRing.attach(ring.buffer);
    const reader = new RingReader(ring, { abandonAfterMs: 100, now: clock.now });
    const dead = other.claim(50);
    dead.parts[0]?.fill(0xee); // half-written, never committed
    ring.publish(payload(7, 1, 20));
    expect(reader.poll(() => undefined)).toBe('pending');
    clock.advance(99);
    expect(reader.poll(() => undefined)).toBe('pending');
    clock.advance(1);
    expect(drain(reader)).toEqual([payload(7, 1, 20)]);
    expect(reader.stats()).toEqual({ delivered: 1, lost: 0, abandoned: 1 });
    expect(ring.abandonedClaims()).toBe(1);
    expect(() => other.commit(dead)).toThrow(ClaimAbandonedError);
    // A second reader that arrives later skips the dead record without waiting.
  });

  it('delivers a slow record that is committed before the timeout', () => {
    const clock = manualClock();
    const ring = newRing();
    const reader = new RingReader(ring, { abandonAfterMs: 100, now: clock.now });
    const slow = ring.claim(4);
    expect(reader.poll(() => undefined)).toBe('pending');
    clock.advance(99);
    slow.parts[0]?.set([1, 2, 3, 4]);
    ring.commit(slow);
    expect(drain(reader)).toEqual([new Uint8Array([1, 2, 3, 4])]);
  });

  it('recovers from a writer that died between claiming and writing the header', () => {
    const clock = manualClock();
    const ring = newRing();
    const reader = new RingReader(ring, { abandonAfterMs: 50, now: clock.now });
    claimWithoutHeader(ring, 300); // dies right after the compare-and-swap
    ring.publish(payload(8, 1, 30));
    ring.publish(payload(8, 2, 30));
    expect(reader.poll(() => undefined)).toBe('pending');
    clock.advance(50);
    expect(drain(reader)).toEqual([payload(8, 1, 30), payload(8, 2, 30)]);
    expect(reader.stats().abandoned).toBe(1);
  });

  it('recovers from an unstamped claim at the end of the ring by jumping to the cursor', () => {
    const clock = manualClock();
    const ring = newRing();
    const reader = new RingReader(ring, { abandonAfterMs: 50, now: clock.now });
    claimWithoutHeader(ring, 300);
    claimWithoutHeader(ring, 10);
    expect(reader.poll(() => undefined)).toBe('pending');
    clock.advance(50);
    expect(reader.poll(() => undefined)).toBe('idle');
    expect(reader.stats().abandoned).toBe(2);
    ring.publish(payload(8, 3, 5));
    expect(drain(reader)).toEqual([payload(8, 3, 5)]);
  });

  it('never delivers anything but committed payloads, whatever the interleaving of deaths', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ length: fc.integer({ min: 0, max: 700 }), fate: fc.constantFrom('commit', 'die', 'die-early') }),
          { maxLength: 60 },
        ),
        (ops) => {
          const clock = manualClock();
          const ring = newRing();
          const reader = new RingReader(ring, { abandonAfterMs: 10, now: clock.now });
          const committed: Uint8Array[] = [];
          const got: Uint8Array[] = [];
          ops.forEach((op, n) => {
            if (op.fate === 'die-early') claimWithoutHeader(ring, op.length);
            else if (op.fate === 'die') ring.claim(op.length).parts[0]?.fill(0xdd);
            else {
              const bytes = payload(9, n, op.length);
              ring.publish(bytes);
              committed.push(bytes);
            }
            // read often enough that the reader never falls a ring behind
            for (let i = 0; i < 3; i++) {
              reader.poll((b) => got.push(b.slice()));
              clock.advance(10);
            }
          });
          expect(got).toEqual(committed);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never crashes on arbitrary bytes in the ring and never delivers more than the cursor allows', () => {
    fc.assert(
      // Cursor positions on and off the 16-byte grid: a misaligned one may only raise RingMismatchError.
      fc.property(fc.uint8Array({ minLength: CAPACITY, maxLength: CAPACITY }), fc.nat(2 ** 32 - 1), (junk, at) => {
        const ring = newRing();
        const reader = new RingReader(ring, { abandonAfterMs: 0 });
        ring.u8.set(junk, RING_HEADER_SIZE);
        const big = new BigInt64Array(ring.buffer, 0, 32);
        big[RingOffset.claim >> 3] = BigInt(at) | (5n << 32n);
        let delivered = 0;
        for (let i = 0; i < 5; i++) {
          try {
            reader.poll(() => delivered++);
          } catch (err) {
            expect(err).toBeInstanceOf(RingMismatchError);
            expect(at % 16).not.toBe(0);
          }
        }
        expect(delivered).toBeLessThanOrEqual(5);
      }),
      { numRuns: 300, examples: [[new Uint8Array(CAPACITY), CAPACITY - 4]] },
    );
  });

  it('never crashes on arbitrary header words: writers and readers attached before the damage raise only RingMismatchError', () => {
    fc.assert(
      fc.property(
        // Control words (cursor, doorbell, sleepers, counters) and reader slots after attach.
        fc.array(fc.tuple(fc.integer({ min: 16, max: RING_HEADER_SIZE / 4 - 1 }), fc.integer()), { maxLength: 40 }),
        fc.nat(2 ** 32 - 1),
        (words, at) => {
          const ring = newRing();
          const writer = SharedRing.attach(ring.buffer);
          const reader = new RingReader(ring, { abandonAfterMs: 0, register: true });
          for (const [index, value] of words) ring.i32[index] = value;
          new BigInt64Array(ring.buffer, 0, 32)[RingOffset.claim >> 3] = BigInt(at) | (3n << 32n);
          const before = rawCursor(ring);
          let refused = 0;
          const attempt = (action: () => unknown): void => {
            try {
              action();
            } catch (err) {
              expect(err).toBeInstanceOf(RingMismatchError);
              refused++;
            }
          };
          attempt(() => writer.publish(payload(1, 0, 40)));
          attempt(() => writer.tryPublish(payload(1, 1, 40)));
          attempt(() => writer.slowestReader());
          for (let i = 0; i < 3; i++) attempt(() => reader.poll(() => undefined));
          attempt(() => reader.hasWork());
          if (at % 16 === 0) expect(refused).toBe(0);
          else expect(rawCursor(ring)).toBe(before); // refused before claiming anything
        },
      ),
      { numRuns: 300 },
    );
  });

  it('tryPublish never overwrites what a registered reader has not read; publish (lossy) does', () => {
    const ring = newRing();
    const reader = new RingReader(ring, { register: true });
    let accepted = 0;
    while (ring.tryPublish(payload(1, accepted, 100)) >= 0) accepted++;
    expect(accepted).toBe(Math.floor(CAPACITY / recordSize(100)));
    expect(ring.slowestReader()).toEqual({ pid: process.pid, behind: accepted * recordSize(100) });
    expect(drain(reader)).toHaveLength(accepted);
    expect(ring.tryPublish(payload(1, 0, 100))).toBeGreaterThanOrEqual(0); // room again
    reader.close();
    for (let i = 0; i < 100; i++) expect(ring.tryPublish(payload(1, i, 100))).toBeGreaterThanOrEqual(0); // nobody to wait for
  });

  it('frees the slots of dead readers so waiting writers go on', () => {
    const ring = newRing();
    new RingReader(ring, { register: true, pid: 999_999 }); // a reader whose process died
    while (ring.tryPublish(payload(1, 0, 100)) >= 0);
    expect(ring.reclaimDeadReaders((pid) => pid !== 999_999)).toBe(1);
    expect(ring.tryPublish(payload(1, 0, 100))).toBeGreaterThanOrEqual(0);
    expect(ring.slowestReader()).toBeUndefined();
  });

  it('publishWith and tryPublishWith write records in place, the same bytes publish writes, across the end of the ring', () => {
    const ring = newRing(8192);
    const reader = new RingReader(ring);
    const writerOf = (bytes: Uint8Array) => ({ writeFrame: (target: Uint8Array, at: number) => target.set(bytes, at) });
    const sent: Uint8Array[] = [];
    // 2000-byte records (2016 in the ring): the fifth starts 8064 in and runs across the end.
    for (let n = 0; n < 9; n++) {
      const bytes = payload(5, n, 2000);
      sent.push(bytes);
      if (n % 2 === 0) ring.publishWith(bytes.length, writerOf(bytes));
      else expect(ring.tryPublishWith(bytes.length, writerOf(bytes))).toBeGreaterThanOrEqual(0);
      expect(drain(reader)).toEqual([bytes]);
    }
    expect(reader.stats()).toEqual({ delivered: 9, lost: 0, abandoned: 0 });
  });

  it('a writer that throws leaves an abandoned record readers step over at once, and the error reaches the caller', () => {
    const ring = newRing();
    const reader = new RingReader(ring);
    const failing = {
      writeFrame: () => {
        throw new Error('encoder failed');
      },
    };
    expect(() => ring.publishWith(10, failing)).toThrow('encoder failed');
    ring.publish(payload(6, 1, 10));
    // No wait for abandonAfterMs: the record is marked abandoned as the writer fails.
    expect(drain(reader)).toEqual([payload(6, 1, 10)]);
    expect(reader.stats()).toEqual({ delivered: 1, lost: 0, abandoned: 1 });
    expect(ring.abandonedClaims()).toBe(1);
  });

  it('tryPublishWith claims nothing and calls no writer when the record does not fit before a registered reader', () => {
    const ring = newRing();
    const reader = new RingReader(ring, { register: true });
    while (ring.tryPublish(payload(1, 0, 100)) >= 0);
    const before = ring.loadClaim();
    let called = 0;
    expect(ring.tryPublishWith(100, { writeFrame: () => void called++ })).toBe(-1);
    expect(called).toBe(0);
    expect(ring.loadClaim()).toEqual(before);
    reader.close();
  });

  it('rejects a payload above maxPayload before claiming anything', () => {
    const ring = newRing();
    expect(() => ring.publish(new Uint8Array(ring.maxPayload + 1))).toThrow(FrameTooLargeError);
    expect(ring.loadClaim()).toEqual([0, 0]);
  });

  it('rings the doorbell only when a reader announced sleep, and only once per sleep', () => {
    const ring = newRing();
    let wakes = 0;
    ring.onWake = () => wakes++;
    ring.publish(payload(1, 0, 8));
    expect(wakes).toBe(0);
    const generation = announceSleep(sleepHeader(ring.buffer));
    ring.publish(payload(1, 1, 8));
    ring.publish(payload(1, 2, 8));
    expect(wakes).toBe(1);
    expect(Atomics.load(ring.i32, RingOffset.doorbell >> 2)).toBe(generation + 1);
  });

  it('hasWork is false when idle and true once a claim exists, even before the header is written', () => {
    const ring = newRing();
    const reader = new RingReader(ring);
    expect(reader.hasWork()).toBe(false);
    claimWithoutHeader(ring, 8);
    expect(reader.hasWork()).toBe(true);
  });

  describe('attach refuses what is not a compatible ring and writes nothing', () => {
    const cases: Array<[string, (b: ArrayBuffer) => void, RegExp]> = [
      ['a stranger (no magic)', (b) => new Uint8Array(b).fill(7), /magic/],
      ['another layout version', (b) => new DataView(b).setUint32(RingOffset.version, 2, true), /version 2/],
      ['another size', (b) => new DataView(b).setUint32(RingOffset.capacity, CAPACITY * 2, true), /capacity/],
      ['another header size', (b) => new DataView(b).setUint32(RingOffset.headerSize, 128, true), /header size/],
      [
        'a claim cursor off the 16-byte grid',
        (b) => new DataView(b).setUint32(RingOffset.claim, CAPACITY - 4, true),
        /not a multiple of 16/,
      ],
      [
        'a claim cursor 8 bytes off the grid',
        (b) => new DataView(b).setUint32(RingOffset.claim, 8, true),
        /not a multiple of 16/,
      ],
    ];
    for (const [what, spoil, message] of cases) {
      it(what, () => {
        const buffer = newRing().buffer;
        spoil(buffer);
        const before = new Uint8Array(buffer).slice();
        expect(() => SharedRing.attach(buffer, 'orders')).toThrow(RingMismatchError);
        expect(() => SharedRing.attach(buffer, 'orders')).toThrow(message);
        expect(new Uint8Array(buffer)).toEqual(before);
      });
    }
    it('a buffer smaller than a header', () => {
      expect(() => SharedRing.attach(new ArrayBuffer(16))).toThrow(RingMismatchError);
    });
  });
});

/** The claim cursor's 64-bit word as it is, without loadClaim's check. */
function rawCursor(ring: SharedRing): bigint {
  return new BigInt64Array(ring.buffer, 0, 32)[RingOffset.claim >> 3] ?? 0n;
}

/** Advance the claim cursor like a writer killed right after its compare-and-swap. */
function claimWithoutHeader(ring: SharedRing, length: number): void {
  const big = new BigInt64Array(ring.buffer, 0, 32);
  const [position] = ring.loadClaim();
  const carry = position + recordSize(length) >= 2 ** 32 ? 0n : 1n << 32n;
  big[RingOffset.claim >> 3] = BigInt.asIntN(
    64,
    (big[RingOffset.claim >> 3] ?? 0n) + BigInt(recordSize(length)) + carry,
  );
}
