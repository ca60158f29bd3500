import { describe, expect, it } from 'vitest';
import { RingReader } from '../src/ring-reader.js';
import { RING_HEADER_SIZE, RingOffset } from '../src/ring-layout.js';
import { SharedRing } from '../src/shared-ring.js';
import { announceSleep, type Doorbell, RingSleeper, sleepHeader, withdrawSleep } from '../src/sleep-protocol.js';

/** A doorbell whose waits the test ends by hand, saying how many units each consumed. */
class FakeDoorbell implements Doorbell {
  readonly waits: { generation: number; end: (consumed: number) => void }[] = [];
  readonly takenBack: number[] = [];
  wait(generation: number): Promise<number> {
    return new Promise((end) => this.waits.push({ generation, end }));
  }
  takeBack(count: number): void {
    this.takenBack.push(count);
  }
}

function setUp(): { ring: SharedRing; reader: RingReader; bell: FakeDoorbell; sleeper: RingSleeper; wakes: number[] } {
  const ring = SharedRing.format(new ArrayBuffer(RING_HEADER_SIZE + 4096));
  const bell = new FakeDoorbell();
  const wakes: number[] = [];
  ring.onWake = (n) => wakes.push(n);
  return { ring, reader: new RingReader(ring), bell, sleeper: new RingSleeper(ring.buffer, bell), wakes };
}

const sleepers = (ring: SharedRing): number => Atomics.load(ring.i32, RingOffset.sleepers >> 2);

describe('sleep protocol: every announcement leaves `sleepers` exactly once', () => {
  it('a sleep that times out withdraws its announcement, and a writer then rings for nobody', async () => {
    const { ring, reader, bell, sleeper, wakes } = setUp();
    for (let i = 0; i < 20; i++) {
      const slept = sleeper.sleep(() => reader.hasWork(), 10);
      expect(sleepers(ring)).toBe(1);
      bell.waits.shift()?.end(0);
      await slept;
      expect(sleepers(ring)).toBe(0);
    }
    ring.publish(new Uint8Array([1]));
    expect(wakes).toEqual([]);
    expect(bell.takenBack).toEqual([]);
  });

  it('a recheck that finds records withdraws at once, without waiting', () => {
    const { ring, reader, bell, sleeper, wakes } = setUp();
    ring.publish(new Uint8Array([1]));
    expect(sleeper.sleep(() => reader.hasWork(), 10)).toBeUndefined();
    expect(bell.waits).toEqual([]);
    expect(sleepers(ring)).toBe(0);
    ring.publish(new Uint8Array([2]));
    expect(wakes).toEqual([]);
  });

  it('a writer committing between the recheck and the wait takes the announcement and rings for it', async () => {
    const { ring, bell, sleeper, wakes } = setUp();
    const slept = sleeper.sleep(() => (ring.publish(new Uint8Array([1])), false), 10);
    expect(wakes).toEqual([1]);
    // The wait is on the generation of the announcement, which the writer moved on: a futex wait
    // returns at once; a semaphore wait finds the unit released for it.
    expect(bell.waits[0]?.generation).toBe(Atomics.load(ring.i32, RingOffset.doorbell >> 2) - 1);
    bell.waits[0]?.end(1);
    await slept;
    expect(sleepers(ring)).toBe(0);
    expect(bell.takenBack).toEqual([]); // the wait consumed the unit released for it
  });

  it('a unit released for a wait that timed out meanwhile is taken back, not left for a later sleep', async () => {
    const { ring, bell, sleeper } = setUp();
    const slept = sleeper.sleep(() => false, 10);
    ring.publish(new Uint8Array([1])); // takes the announcement: one unit released
    bell.waits[0]?.end(0); // but the wait had timed out
    await slept;
    expect(bell.takenBack).toEqual([1]);
    expect(sleepers(ring)).toBe(0);
  });

  it('transports of one process share one wait and one announcement', async () => {
    const { ring, bell, sleeper, wakes } = setUp();
    const readers = [1, 2, 3].map(() => new RingReader(ring));
    const slept = readers.map((r) => sleeper.sleep(() => r.hasWork(), 10));
    expect(bell.waits.length).toBe(1);
    expect(sleepers(ring)).toBe(1);
    ring.publish(new Uint8Array([1]));
    expect(wakes).toEqual([1]); // one unit, for the one wait that can consume it
    bell.waits[0]?.end(1);
    await Promise.all(slept);
    expect(bell.takenBack).toEqual([]);
  });

  it('close ends the wait in flight and takes back the unit it released for that', async () => {
    const { ring, bell, sleeper } = setUp();
    void sleeper.sleep(() => false, 10_000);
    await sleeper.close(() => (bell.waits[0]?.end(1), 1));
    expect(sleepers(ring)).toBe(0);
    expect(bell.takenBack).toEqual([]); // the wait consumed the one unit close released
    expect(sleeper.sleep(() => false, 10)).toBeUndefined();
  });

  it('a writer clearing `sleepers` before moving the doorbell (two steps) counts as having taken it', () => {
    const { ring } = setUp();
    const header = sleepHeader(ring.buffer);
    const generation = announceSleep(header);
    Atomics.store(ring.i32, RingOffset.sleepers >> 2, 0); // first step of such a writer
    expect(withdrawSleep(header, generation)).toBe(false);
    expect(sleepers(ring)).toBe(0);
  });
});
