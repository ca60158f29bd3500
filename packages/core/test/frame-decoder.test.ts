import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_HEADER_SIZE, FrameKind, encodeEnvelope } from '../src/envelope.js';
import { FrameError, FrameTooLargeError } from '../src/errors.js';
import { FrameDecoder, encodeLengthPrefixed } from '../src/frame-decoder.js';

/** A random valid envelope, as encoded bytes. */
const envelopeArb = fc
  .record({
    kind: fc.integer({ min: 1, max: 14 }),
    origin: fc.maxSafeNat(),
    sequence: fc.nat({ max: 0xffff_ffff }),
    topic: fc.string({ maxLength: 40 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  })
  .map((init) => encodeEnvelope({ ...init, kind: init.kind as FrameKind }));

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Cut `bytes` at the given (unsorted, possibly repeated) offsets. */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

function decodeAll(decoder: FrameDecoder, chunks: readonly Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) decoder.push(chunk, (f) => frames.push(f.slice()));
  return frames;
}

/** A valid publish frame with `payloadLength` payload bytes. */
function frameOf(payloadLength: number): Uint8Array {
  return encodeEnvelope({
    kind: FrameKind.Publish,
    origin: 1,
    sequence: 1,
    topic: 't',
    payload: new Uint8Array(payloadLength).fill(7),
  });
}

describe('FrameDecoder', () => {
  it('yields the same frames for any split or coalescing of the stream', () => {
    fc.assert(
      fc.property(fc.array(envelopeArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const stream = concat(frames.map(encodeLengthPrefixed));
        const decoder = new FrameDecoder();
        const out = decodeAll(decoder, split(stream, cuts));
        expect(out).toEqual(frames);
        expect(decoder.buffered).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('yields the same frames for any split when frames are larger than the first allocation (buffer growth)', () => {
    // Frames of up to 300 KiB split at random: exercises growth from 64 KiB, at every boundary.
    const bigArb = fc
      .tuple(fc.integer({ min: 0, max: 300 * 1024 }), fc.integer({ min: 0, max: 255 }))
      .map(([n, fill]) =>
        encodeEnvelope({
          kind: FrameKind.Publish,
          origin: 1,
          sequence: 1,
          topic: 't',
          payload: new Uint8Array(n).fill(fill),
        }),
      );
    fc.assert(
      fc.property(
        fc.array(bigArb, { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (frames, cuts) => {
          const stream = concat(frames.map(encodeLengthPrefixed));
          const decoder = new FrameDecoder();
          const out = decodeAll(decoder, split(stream, cuts));
          // Compared through Buffer: vitest's deep equal of 300 KiB arrays takes seconds a run.
          expect(out.map((f) => f.length)).toEqual(frames.map((f) => f.length));
          expect(out.every((f, i) => Buffer.from(f).equals(frames[i] as Uint8Array))).toBe(true);
          expect(decoder.allocatedBytes).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('holds memory in step with the bytes received, not with the length announced', () => {
    const announced = 16 * 1024 * 1024;
    // A valid prefix and header announcing 16 MiB (topic "t", payload the rest), then little else.
    const head = encodeLengthPrefixed(frameOf(0));
    new DataView(head.buffer).setUint32(0, announced);
    new DataView(head.buffer).setUint32(4 + 36, announced - ENVELOPE_HEADER_SIZE - 1);
    const decoder = new FrameDecoder();
    decoder.push(head, () => undefined);
    decoder.push(new Uint8Array(59), () => undefined); // 100 bytes of the frame in all
    expect(decoder.buffered).toBe(104);
    // Before: the whole announced 16 MiB at once.
    expect(decoder.allocatedBytes).toBeLessThanOrEqual(64 * 1024);
    // Growth stays within about twice what arrived, and a complete frame is exactly its length.
    let received = 100;
    for (const size of [1000, 200_000, 1 << 20, 3 << 20]) {
      decoder.push(new Uint8Array(size), () => undefined);
      received += size;
      expect(decoder.allocatedBytes).toBeLessThanOrEqual(Math.max(64 * 1024, 2 * received));
      expect(decoder.allocatedBytes).toBeGreaterThanOrEqual(received);
    }
    let frame: Uint8Array | undefined;
    decoder.push(new Uint8Array(announced - received), (f) => (frame = f));
    expect(frame?.length).toBe(announced);
    expect(frame?.buffer.byteLength).toBe(announced);
    expect(decoder.allocatedBytes).toBe(0);
  });

  it('yields the same frames when fed one byte at a time', () => {
    const frames = [frameOf(0), frameOf(1), frameOf(100)];
    const stream = concat(frames.map(encodeLengthPrefixed));
    const chunks = Array.from(stream, (b) => Uint8Array.of(b));
    expect(decodeAll(new FrameDecoder(), chunks)).toEqual(frames);
  });

  it('hands out a zero-copy view when a frame lies within one chunk', () => {
    const stream = encodeLengthPrefixed(frameOf(10));
    let seen: Uint8Array | undefined;
    new FrameDecoder().push(stream, (f) => (seen = f));
    expect(seen?.buffer).toBe(stream.buffer);
    expect(seen?.byteOffset).toBe(4);
  });

  it('reports the bytes it holds between chunks', () => {
    const stream = encodeLengthPrefixed(frameOf(100));
    const decoder = new FrameDecoder();
    decoder.push(stream.subarray(0, 10), () => undefined);
    expect(decoder.buffered).toBe(10);
    decoder.push(stream.subarray(10, 60), () => undefined);
    expect(decoder.buffered).toBe(60);
    let count = 0;
    decoder.push(stream.subarray(60), () => (count += 1));
    expect(count).toBe(1);
    expect(decoder.buffered).toBe(0);
  });

  it('accepts a frame of exactly maxFrameSize and rejects one byte more', () => {
    const frame = frameOf(60);
    expect(decodeAll(new FrameDecoder({ maxFrameSize: frame.length }), [encodeLengthPrefixed(frame)])).toEqual([frame]);
    const tight = new FrameDecoder({ maxFrameSize: frame.length - 1 });
    expect(() => tight.push(encodeLengthPrefixed(frame), () => undefined)).toThrow(FrameTooLargeError);
  });

  describe('bad frames', () => {
    it('rejects an announced 4 GiB frame from its 4-byte prefix alone', () => {
      const decoder = new FrameDecoder();
      let error: unknown;
      try {
        decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff), () => undefined);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(FrameTooLargeError);
      expect(error).toMatchObject({ code: 'FRAME_TOO_LARGE', size: 0xffff_ffff, limit: 16 * 1024 * 1024 });
    });

    it('rejects a huge frame with a bad header under a 4 GiB limit before allocating room for it', () => {
      const decoder = new FrameDecoder({ maxFrameSize: 0xffff_ffff });
      const head = new Uint8Array(4 + ENVELOPE_HEADER_SIZE);
      head.set([0xff, 0xff, 0xff, 0xfe], 0);
      head.set(frameOf(0).subarray(0, ENVELOPE_HEADER_SIZE), 4); // declares 41 bytes, not 4 GiB - 2
      // Allocating 4 GiB would fail with a RangeError or take seconds; a FrameError means it never tried.
      expect(() => decoder.push(head, () => undefined)).toThrow(FrameError);
    });

    it.each([
      ['wrong magic', (f: Uint8Array) => (f[0] = 0x58), /bad magic/],
      ['unknown version', (f: Uint8Array) => (f[2] = 2), /version 2/],
      ['unknown kind', (f: Uint8Array) => (f[3] = 99), /kind 99/],
      ['declared lengths disagreeing', (f: Uint8Array) => (f[39] = (f[39] as number) + 1), /declares/],
    ])('rejects %s as soon as the header is in, with FrameError', (_name, corrupt, message) => {
      const frame = frameOf(1000);
      corrupt(frame);
      const stream = encodeLengthPrefixed(frame);
      // Only the prefix and header are pushed: the error must not wait for the body.
      for (const chunks of [[stream.subarray(0, 44)], Array.from(stream.subarray(0, 44), (b) => Uint8Array.of(b))]) {
        const decoder = new FrameDecoder();
        expect(() => decodeAll(decoder, chunks)).toThrow(message);
        expect(() => decodeAll(decoder, chunks)).toThrow(FrameError);
      }
    });

    it('rejects a length too short to hold the header (truncated header) from the prefix alone', () => {
      const decoder = new FrameDecoder();
      expect(() => decoder.push(Uint8Array.of(0, 0, 0, ENVELOPE_HEADER_SIZE - 1), () => undefined)).toThrow(FrameError);
    });

    it('stays poisoned: every later push throws the same error', () => {
      const decoder = new FrameDecoder();
      let first: unknown;
      try {
        decoder.push(Uint8Array.of(0, 0, 0, 1), () => undefined);
      } catch (err) {
        first = err;
      }
      expect(first).toBeInstanceOf(FrameError);
      const good = encodeLengthPrefixed(frameOf(1));
      let delivered = 0;
      expect(() => decoder.push(good, () => (delivered += 1))).toThrow(first as Error);
      expect(delivered).toBe(0);
      expect(decoder.buffered).toBe(0);
    });

    it('is poisoned by an exception from onFrame, which propagates unchanged', () => {
      const decoder = new FrameDecoder();
      const boom = new Error('boom');
      const two = concat([encodeLengthPrefixed(frameOf(1)), encodeLengthPrefixed(frameOf(2))]);
      expect(() =>
        decoder.push(two, () => {
          throw boom;
        }),
      ).toThrow(boom);
      expect(() => decoder.push(two, () => undefined)).toThrow(boom);
    });
  });

  it('refuses a limit the u32 length prefix cannot express', () => {
    expect(() => new FrameDecoder({ maxFrameSize: 2 ** 32 })).toThrow(/maxFrameSize/);
    expect(() => new FrameDecoder({ maxFrameSize: 10 })).toThrow(/maxFrameSize/);
  });
});

describe('encodeLengthPrefixed', () => {
  it('writes the length big-endian before the frame', () => {
    const frame = new Uint8Array(0x010203).fill(9);
    const out = encodeLengthPrefixed(frame);
    expect(Array.from(out.subarray(0, 4))).toEqual([0x00, 0x01, 0x02, 0x03]);
    expect(out.length).toBe(4 + frame.length);
    expect(Buffer.from(out.subarray(4)).equals(frame)).toBe(true);
  });
});
