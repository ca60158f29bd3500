import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  ENVELOPE_HEADER_SIZE,
  FrameFlags,
  FrameKind,
  PayloadEncoding,
  encodeEnvelope,
} from '../src/envelope.js';
import { FrameError, FrameTooLargeError } from '../src/errors.js';
import { fragmentEnvelope } from '../src/fragmenter.js';
import { Reassembler } from '../src/reassembler.js';

/** A nextSequence() counting up from `first` + 1, like a bus's. */
function counterFrom(first: number): () => number {
  let seq = first;
  return () => (seq = (seq + 1) >>> 0);
}

function payloadOf(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
}

const base = {
  kind: FrameKind.Request,
  origin: 2 ** 40 + 3,
  topic: 'files.upload',
  encoding: PayloadEncoding.MsgPack,
  correlation: 77,
} as const;

describe('fragmentEnvelope', () => {
  it('returns one ordinary frame when the envelope fits, without consuming sequences', () => {
    let calls = 0;
    const init = { ...base, sequence: 5, headers: { a: 'b' }, payload: payloadOf(100) };
    const frames = fragmentEnvelope(init, 1000, () => (calls += 1));
    expect(frames).toEqual([encodeEnvelope(init)]);
    expect(calls).toBe(0);
  });

  it("cuts a payload given with a head (a codec's, see PayloadCodec.head) as the joined bytes", () => {
    const head = Uint8Array.of(0xc5, 0x01, 0x2c);
    const body = payloadOf(300);
    const joined = new Uint8Array([...head, ...body]);
    const withHead = fragmentEnvelope({ ...base, sequence: 9, payloadHead: head, payload: body }, 128, counterFrom(9));
    const plain = fragmentEnvelope({ ...base, sequence: 9, payload: joined }, 128, counterFrom(9));
    expect(withHead.length).toBeGreaterThan(1);
    expect(withHead).toEqual(plain);
  });

  it('fits exactly at maxFrameSize and splits one byte over', () => {
    const init = { ...base, sequence: 1, payload: payloadOf(100) };
    const exact = encodeEnvelope(init).length;
    expect(fragmentEnvelope(init, exact, counterFrom(1))).toHaveLength(1);
    expect(fragmentEnvelope(init, exact - 1, counterFrom(1))).toHaveLength(2);
  });

  it('splits into frames within the limit, consecutive sequences, shared fields, headers on fragment 0 only', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 130, max: 700 }), // 124 bytes of header, topic and headers: at least 6 payload bytes per frame
        fc.boolean(),
        (first, length, maxFrameSize, withHeaders) => {
          const headers = withHeaders
            ? { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }
            : undefined;
          const payload = payloadOf(length);
          const frames = fragmentEnvelope(
            { ...base, sequence: first, headers, payload },
            maxFrameSize,
            counterFrom(first),
          );
          const envs = frames.map((f) => decodeEnvelope(f));
          for (const f of frames) expect(f.length).toBeLessThanOrEqual(maxFrameSize);
          envs.forEach((env, i) => {
            expect(env.sequence).toBe((first + i) >>> 0);
            expect(env).toMatchObject({
              kind: base.kind,
              origin: base.origin,
              topic: base.topic,
              encoding: base.encoding,
              correlation: 77,
            });
            if (frames.length > 1) {
              expect(env).toMatchObject({ fragmentIndex: i, fragmentCount: frames.length });
              expect(env.flags & FrameFlags.Fragment).toBe(FrameFlags.Fragment);
              // Only full fragments precede the last one: no frame is wasted.
              if (i < frames.length - 1) expect(frames[i]?.length).toBe(maxFrameSize);
            }
            expect(env.headers).toEqual(i === 0 ? headers : undefined);
          });
          const joined = Buffer.concat(envs.map((e) => e.payload));
          expect(joined.equals(payload)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('fails when not one payload byte fits beside the header, topic and headers', () => {
    const init = { ...base, sequence: 0, headers: { k: 'x'.repeat(100) }, payload: payloadOf(10) };
    const bare = encodeEnvelope({ ...init, payload: new Uint8Array(0) }).length;
    expect(() => fragmentEnvelope(init, bare, counterFrom(0))).toThrow(FrameTooLargeError);
    expect(() => fragmentEnvelope(init, ENVELOPE_HEADER_SIZE, counterFrom(0))).toThrow(FrameTooLargeError);
  });

  it('carries the Last flag on every fragment, and the Reassembler keeps it on the whole message', () => {
    const init = { ...base, kind: FrameKind.Reply, sequence: 1, last: true, payload: payloadOf(1000) };
    const envs = fragmentEnvelope(init, 200, counterFrom(1)).map((f) => decodeEnvelope(f));
    expect(envs.length).toBeGreaterThan(1);
    for (const env of envs) expect(env.flags & FrameFlags.Last).toBe(FrameFlags.Last);
    const reassembler = new Reassembler();
    const whole = envs.map((e) => reassembler.accept(e)).at(-1);
    expect(whole?.flags).toBe(FrameFlags.Last);
    reassembler.close();
  });

  it('refuses a nextSequence that does not count up by one', () => {
    const init = { ...base, sequence: 10, payload: payloadOf(1000) };
    expect(() => fragmentEnvelope(init, 200, () => 99)).toThrow(FrameError);
  });

  it('round-trips through the Reassembler in any arrival order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 1, max: 4000 }),
        fc.array(fc.nat(), { maxLength: 50 }),
        (first, length, order) => {
          const payload = payloadOf(length);
          const init = { ...base, sequence: first, headers: { h: 'v' }, payload };
          const frames = fragmentEnvelope(init, 200, counterFrom(first));
          // A permutation driven by `order`.
          const pending = frames.map((_, i) => i);
          const arrival: number[] = [];
          for (let k = 0; pending.length > 0; k += 1)
            arrival.push(...pending.splice((order[k] ?? 0) % pending.length, 1));
          const reassembler = new Reassembler();
          const results = arrival.map((i) => reassembler.accept(decodeEnvelope(frames[i] as Uint8Array)));
          reassembler.close();
          const whole = results.at(-1);
          expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
          expect(whole).toBeDefined();
          expect(whole).toMatchObject({
            ...base,
            sequence: first,
            fragmentIndex: 0,
            fragmentCount: 1,
            headers: { h: 'v' },
          });
          expect(whole !== undefined && Buffer.from(whole.payload).equals(payload)).toBe(true);
          expect(reassembler.stats).toMatchObject({ pending: 0, pendingBytes: 0 });
        },
      ),
      { numRuns: 200 },
    );
  });
});
