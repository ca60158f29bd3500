import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkEnvelopeHeader,
  decodeEnvelope,
  encodeEnvelope,
  encodeEnvelopeInRoom,
  ENVELOPE_HEADER_SIZE,
  envelopeHeadSize,
  envelopeSize,
  headersSizeBound,
  FrameFlags,
  type EnvelopeInit,
  FrameKind,
  type PayloadEncoding,
  peekCorrelation,
  peekOrigin,
  peekRoute,
  peekTopic,
  readEnvelope,
  writeEnvelope,
} from '../src/envelope.js';
import { FrameError, FrameTooLargeError } from '../src/errors.js';
import { encodeLengthPrefixed, FrameDecoder } from '../src/frame-decoder.js';

interface Vector {
  name: string;
  init: Omit<EnvelopeInit, 'payload'> & { payload: string };
  frame: string;
  stream?: string;
}

const SPEC = new URL('../../../docs/wire-format.md', import.meta.url);

/** The ```json vector blocks of docs/wire-format.md. */
function readVectors(): Vector[] {
  const markdown = readFileSync(SPEC, 'utf8');
  return [...markdown.matchAll(/^```json vector\n([\s\S]*?)^```$/gm)].map((m) => JSON.parse(m[1] as string) as Vector);
}

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** What decoding must give for an init: every field, absent ones at their defaults. */
function expected(init: EnvelopeInit): object {
  const headers = init.headers !== undefined && Object.keys(init.headers).length > 0 ? init.headers : undefined;
  const fragmentCount = init.fragmentCount ?? 1;
  return {
    kind: init.kind,
    flags:
      (fragmentCount > 1 ? FrameFlags.Fragment : 0) |
      (headers ? FrameFlags.Headers : 0) |
      (init.last === true ? FrameFlags.Last : 0),
    encoding: init.encoding ?? 0,
    origin: init.origin,
    sequence: init.sequence,
    correlation: init.correlation ?? 0,
    fragmentIndex: init.fragmentIndex ?? 0,
    fragmentCount,
    topic: init.topic,
    headers,
    payload: init.payload ?? new Uint8Array(0),
  };
}

/** A valid publish frame to corrupt. */
function sample(): Uint8Array {
  return encodeEnvelope({
    kind: 1,
    origin: 7,
    sequence: 1,
    topic: 'a.b',
    headers: { k: 'v' },
    payload: Uint8Array.of(1, 2, 3),
  });
}

function setU32(frame: Uint8Array, at: number, value: number): Uint8Array {
  new DataView(frame.buffer, frame.byteOffset).setUint32(at, value);
  return frame;
}

describe('wire-format.md test vectors', () => {
  const vectors = readVectors();

  it('the document holds at least the publish, headers, fragment and last-reply vectors', () => {
    expect(vectors.map((v) => v.name)).toEqual(
      expect.arrayContaining(['publish', 'request with headers', 'fragment', 'last reply']),
    );
  });

  describe.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    const init: EnvelopeInit = { ...vector.init, payload: fromHex(vector.init.payload) };

    it('encodes to the documented bytes', () => {
      expect(toHex(encodeEnvelope(init))).toBe(toHex(fromHex(vector.frame)));
    });

    it('decodes from the documented bytes', () => {
      expect(decodeEnvelope(fromHex(vector.frame))).toEqual(expected(init));
    });
  });

  const streamed = vectors.flatMap((v) => (v.stream === undefined ? [] : [[v.name, v.frame, v.stream] as const]));

  it('the document holds stream forms to check', () => {
    expect(streamed.length).toBeGreaterThanOrEqual(2);
  });

  it.each(streamed)(
    '%s: has the documented stream form, which the FrameDecoder reads back',
    (_name, frame, streamHex) => {
      const stream = fromHex(streamHex);
      expect(toHex(encodeLengthPrefixed(fromHex(frame)))).toBe(toHex(stream));
      const frames: string[] = [];
      new FrameDecoder().push(stream, (f) => frames.push(toHex(f)));
      expect(frames).toEqual([toHex(fromHex(frame))]);
    },
  );
});

describe('envelope round trip', () => {
  const initArb = fc.record(
    {
      kind: fc.integer({ min: 1, max: 14 }).map((k) => k as FrameKind),
      origin: fc.maxSafeNat(),
      sequence: fc.nat({ max: 0xffff_ffff }),
      correlation: fc.nat({ max: 0xffff_ffff }),
      encoding: fc.integer({ min: 0, max: 2 }).map((e) => e as PayloadEncoding),
      topic: fc.string({ unit: 'grapheme', maxLength: 60 }),
      fragment: fc
        .integer({ min: 1, max: 0xffff_ffff })
        .chain((count) => fc.tuple(fc.nat({ max: count - 1 }), fc.constant(count))),
      headers: fc.dictionary(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        { maxKeys: 4 },
      ),
      payload: fc.uint8Array({ maxLength: 200 }),
      last: fc.boolean(),
    },
    { requiredKeys: ['kind', 'origin', 'sequence', 'topic'] },
  );

  it('decode(encode(x)) gives x back, for any valid envelope', () => {
    fc.assert(
      fc.property(initArb, ({ fragment, ...rest }) => {
        const init: EnvelopeInit = { ...rest, fragmentIndex: fragment?.[0], fragmentCount: fragment?.[1] };
        const frame = encodeEnvelope(init);
        expect(frame.length).toBe(
          ENVELOPE_HEADER_SIZE +
            Buffer.byteLength(init.topic) +
            new DataView(frame.buffer, frame.byteOffset).getUint32(32) +
            (init.payload?.length ?? 0),
        );
        const env = decodeEnvelope(frame);
        // Decoded headers have a null prototype (no "__proto__" surprises); compare as plain objects.
        expect({ ...env, headers: env.headers && { ...env.headers } }).toEqual(expected(init));
        // readEnvelope decodes the same fields, and the payload from where it says.
        const read = readEnvelope(frame);
        const { frame: source, payloadStart, ...fields } = read;
        expect(source).toBe(frame);
        expect({ ...fields, payload: read.payload, headers: read.headers && { ...read.headers } }).toEqual(
          expected(init),
        );
        expect(frame.subarray(payloadStart)).toEqual(read.payload);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a leading byte-order mark in topic and headers', () => {
    const env = decodeEnvelope(
      encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic: '\ufeffa', headers: { '\ufeffk': '\ufeffv' } }),
    );
    expect(env.topic).toBe('\ufeffa');
    expect({ ...env.headers }).toEqual({ '\ufeffk': '\ufeffv' });
  });

  it('decodes topics right whatever came before: repeats, alternations, same lengths, reused buffers', () => {
    const topics = ['a.b', 'a.c', 'a.b', 'x', 'a.c', '', 'é.b', 'a.b', 'ab.', 'b.a', 'a'.repeat(64), 'a'.repeat(65)];
    for (let round = 0; round < 3; round += 1) {
      for (const topic of topics) {
        const frame = encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic });
        expect(peekRoute(frame).topic).toBe(topic);
        expect(readEnvelope(frame).topic).toBe(topic);
        expect(decodeEnvelope(frame).topic).toBe(topic);
      }
    }
    // A transport's reused Buffer: what was decoded from it must not change when it is overwritten.
    const reused = Buffer.from(encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic: 'one.x' }));
    expect(readEnvelope(reused).topic).toBe('one.x');
    reused.set(encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic: 'two.y' }));
    expect(readEnvelope(reused).topic).toBe('two.y');
    expect(peekRoute(reused).topic).toBe('two.y');
    expect(decodeEnvelope(encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic: 'one.x' })).topic).toBe('one.x');
  });

  it('an empty topic or header key is never taken for a cached one of another length', () => {
    // '"`' hashes to slot 0 of both caches, where the empty string's hash (its length, 0) lands.
    const cachedFirst = encodeEnvelope({
      kind: FrameKind.Publish,
      origin: 1,
      sequence: 1,
      topic: '"`',
      headers: { '"`': 'a' },
    });
    expect(decodeEnvelope(cachedFirst).topic).toBe('"`');
    const empty = encodeEnvelope({ kind: FrameKind.Leave, origin: 1, sequence: 2, topic: '', headers: { '': 'b' } });
    const decoded = decodeEnvelope(empty);
    expect(decoded.topic).toBe('');
    expect(decoded.headers).toEqual({ '': 'b' });
    expect(peekRoute(empty).topic).toBe('');
  });

  it('decodes header keys and values of any kind, again and again', () => {
    const cases: Record<string, string>[] = [
      { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      { '': '', __proto__x: 'é', 'k\u00e9y': 'v', ['__proto__']: 'p' },
      { ['k'.repeat(65)]: 'v'.repeat(300), ascii: '\u007f', latin: '\u00ff', bom: '\ufeffx' },
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key-${i}`, `value-${i}`])),
    ];
    for (let round = 0; round < 2; round += 1) {
      for (const headers of cases) {
        const frame = encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic: 't', headers });
        const decoded = readEnvelope(frame).headers;
        expect(Object.getPrototypeOf(decoded)).toBe(null);
        expect({ ...decoded }).toEqual({ ...headers });
        expect(Object.keys(decoded ?? {})).toEqual(Object.keys(headers));
      }
    }
    // Bad UTF-8 in a value (the last byte of the block) is a FrameError, as in a key.
    const frame = encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic: 't', headers: { k: 'ab' } });
    frame[frame.length - 1] = 0xc3;
    expect(() => readEnvelope(frame)).toThrow(FrameError);
    expect(() => decodeEnvelope(frame)).toThrow(FrameError);
  });

  it('readEnvelope rejects what decodeEnvelope rejects, with the same errors', () => {
    const good = encodeEnvelope({ kind: 1, origin: 1, sequence: 1, topic: 'a', headers: { k: 'v' } });
    const badTopic = good.slice();
    badTopic[ENVELOPE_HEADER_SIZE] = 0xff;
    const badHeaders = good.slice();
    badHeaders[ENVELOPE_HEADER_SIZE + 1 + 4] = 0xff;
    const badMagic = good.slice();
    badMagic[0] = 0;
    for (const frame of [badTopic, badHeaders, badMagic, good.subarray(0, 39)]) {
      expect(() => readEnvelope(frame)).toThrow(FrameError);
      expect(() => readEnvelope(frame)).toThrow(
        (() => {
          try {
            decodeEnvelope(frame);
          } catch (err) {
            return (err as Error).message;
          }
          return 'decodeEnvelope accepted it';
        })(),
      );
    }
    expect(() => readEnvelope(good, good.length - 1)).toThrow(FrameTooLargeError);
  });

  it('peekRoute reads kind, origin, correlation and topic without decoding the rest', () => {
    const frame = encodeEnvelope({
      kind: 2,
      origin: 2 ** 50 + 1,
      sequence: 3,
      correlation: 44,
      topic: 'x.y',
      payload: Uint8Array.of(9),
    });
    expect(peekRoute(frame)).toEqual({ kind: 2, origin: 2 ** 50 + 1, correlation: 44, topic: 'x.y' });
    // And one field at a time, as the router reads them; the largest correlation id stays unsigned.
    const last = encodeEnvelope({ kind: 2, origin: 1, sequence: 1, correlation: 0xffffffff, topic: 'x' });
    expect([peekOrigin(frame), peekCorrelation(frame), peekTopic(frame)]).toEqual([2 ** 50 + 1, 44, 'x.y']);
    expect(peekCorrelation(last)).toBe(0xffffffff);
  });
});

describe('malformed envelopes', () => {
  it.each<[string, (f: Uint8Array) => Uint8Array, RegExp]>([
    ['wrong magic', (f) => ((f[1] = 0x58), f), /bad magic/],
    ['unknown version', (f) => ((f[2] = 0), f), /version 0/],
    ['kind 0', (f) => ((f[3] = 0), f), /kind 0/],
    ['kind 15', (f) => ((f[3] = 15), f), /kind 15/],
    ['unknown encoding', (f) => ((f[5] = 3), f), /encoding 3/],
    ['topic length over 1024', (f) => ((f[6] = 0x04), (f[7] = 0x01), f), /topic of 1025 bytes/],
    ['origin of 2^53', (f) => setU32(f, 8, 0x20_0000), /origin/],
    ['payload length too large', (f) => setU32(f, 36, 4), /declares/],
    ['payload length too small', (f) => setU32(f, 36, 2), /declares/],
    ['headers length disagreeing', (f) => setU32(f, 32, 5), /declares/],
    ['trailing byte', (f) => Uint8Array.of(...f, 0), /declares/],
    ['missing byte', (f) => f.subarray(0, f.length - 1), /declares/],
    ['truncated header', (f) => f.subarray(0, ENVELOPE_HEADER_SIZE - 1), /shorter than the 40-byte header/],
    ['fragment count 0', (f) => setU32(f, 28, 0), /fragment/],
    ['fragment index past the count', (f) => setU32(setU32(f, 28, 2), 24, 2), /fragment/],
    ['topic not UTF-8', (f) => ((f[ENVELOPE_HEADER_SIZE] = 0xff), f), /UTF-8/],
    ['header count past the block', (f) => ((f[ENVELOPE_HEADER_SIZE + 4] = 2), f), /headers block truncated/],
    ['header key length past the block', (f) => ((f[ENVELOPE_HEADER_SIZE + 3 + 3] = 9), f), /headers block truncated/],
    ['headers block with trailing bytes', (f) => ((f[ENVELOPE_HEADER_SIZE + 4] = 0), f), /trailing bytes/],
    ['header not UTF-8', (f) => ((f[ENVELOPE_HEADER_SIZE + 3 + 4] = 0xff), f), /UTF-8/],
  ])('rejects %s with FrameError', (_name, corrupt, message) => {
    const frame = corrupt(sample());
    expect(() => decodeEnvelope(frame)).toThrow(FrameError);
    expect(() => decodeEnvelope(frame)).toThrow(message);
  });

  it('checks the header alone, without the body', () => {
    const frame = sample();
    expect(() => checkEnvelopeHeader(frame.subarray(0, ENVELOPE_HEADER_SIZE), frame.length)).not.toThrow();
    expect(() => checkEnvelopeHeader(frame.subarray(0, ENVELOPE_HEADER_SIZE), frame.length + 1)).toThrow(FrameError);
  });

  it('rejects a frame over maxFrameSize with FrameTooLargeError', () => {
    const frame = sample();
    expect(() => decodeEnvelope(frame, frame.length - 1)).toThrow(FrameTooLargeError);
    expect(decodeEnvelope(frame, frame.length).topic).toBe('a.b');
  });

  it('peekRoute rejects a topic that is not UTF-8 with FrameError', () => {
    const frame = sample();
    frame[ENVELOPE_HEADER_SIZE] = 0xc3;
    expect(() => peekRoute(frame)).toThrow(FrameError);
  });

  it.each<[string, EnvelopeInit]>([
    ['a topic over 1024 bytes', { kind: 1, origin: 1, sequence: 1, topic: 'é'.repeat(513) }],
    ['an origin of 2^53', { kind: 1, origin: 2 ** 53, sequence: 1, topic: 'a' }],
    ['a negative origin', { kind: 1, origin: -1, sequence: 1, topic: 'a' }],
    [
      'a header value over 65535 bytes',
      { kind: 1, origin: 1, sequence: 1, topic: 'a', headers: { k: 'x'.repeat(65536) } },
    ],
  ])('refuses to encode %s', (_name, init) => {
    expect(() => encodeEnvelope(init)).toThrow(FrameError);
  });
});

describe('envelope size', () => {
  it('gives the exact size, and headersSizeBound never less than the headers take', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 30 })),
        fc.uint8Array({ maxLength: 64 }),
        (topic, headers, payload) => {
          const init = { kind: FrameKind.Publish, origin: 1, sequence: 1, topic: topic || 't', headers, payload };
          const exact = encodeEnvelope(init).length;
          expect(envelopeSize(init)).toBe(exact);
          const bound = ENVELOPE_HEADER_SIZE + init.topic.length * 3 + headersSizeBound(headers) + payload.length;
          expect(bound).toBeGreaterThanOrEqual(exact);
        },
      ),
    );
  });
});

/** `init` written by writeEnvelope at `at` of `target`, as a frame of its own. */
function writeAt(target: Uint8Array, at: number, init: EnvelopeInit): Uint8Array {
  writeEnvelope(target, at, init);
  return target.slice(at, at + envelopeSize(init));
}

describe('writing an envelope in place', () => {
  it('writeEnvelope writes at an offset exactly what encodeEnvelope returns, and nothing around it', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 30 })),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 5 }),
        fc.nat(64),
        (topic, headers, payload, payloadHead, offset) => {
          const init = {
            kind: FrameKind.Publish,
            origin: 2 ** 45 + 9,
            sequence: 7,
            topic: topic || 't',
            headers,
            payload,
            payloadHead,
          };
          const frame = encodeEnvelope(init);
          expect(envelopeSize(init)).toBe(frame.length);
          const target = new Uint8Array(offset + frame.length + 8).fill(0xee);
          writeEnvelope(target, offset, init);
          expect(toHex(target.subarray(offset, offset + frame.length))).toBe(toHex(frame));
          expect(target.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
          expect(target.subarray(offset + frame.length).every((b) => b === 0xee)).toBe(true);
        },
      ),
    );
  });

  it('frames written one after another decode to their own fields, whichever fields they share', () => {
    // The header of the last plain frame is reused when the next one matches it: every field, and
    // the sequence, correlation and payload length it patches, must then still be each frame's own.
    const base = { kind: FrameKind.Publish, origin: 2 ** 40 + 5, topic: 'a.b', encoding: 1 as PayloadEncoding };
    const variants: EnvelopeInit[] = [
      { ...base, sequence: 1, payload: Uint8Array.of(1) },
      { ...base, sequence: 2, payload: Uint8Array.of(1, 2, 3) },
      { ...base, sequence: 3, origin: 7, payload: Uint8Array.of(4) },
      { ...base, sequence: 4, topic: 'a.c', payload: Uint8Array.of(5) },
      { ...base, sequence: 5, kind: FrameKind.Request, correlation: 9, payload: Uint8Array.of(6) },
      { ...base, sequence: 6, kind: FrameKind.Request, correlation: 10, payload: Uint8Array.of(6) },
      { ...base, sequence: 7, kind: FrameKind.Reply, correlation: 10, last: true, payload: Uint8Array.of(7) },
      { ...base, sequence: 8, encoding: 2 as PayloadEncoding, payload: Uint8Array.of(8) },
      { ...base, sequence: 9, headers: { k: 'v' }, payload: Uint8Array.of(9) },
      { ...base, sequence: 10, fragmentIndex: 1, fragmentCount: 3, payload: Uint8Array.of(10) },
      { ...base, sequence: 11, payloadHead: Uint8Array.of(0xc4, 1), payload: Uint8Array.of(11) },
      { ...base, sequence: 12, payload: Uint8Array.of(12) },
    ];
    // Each twice in a row (the second reuses the first's header), then in an order that reuses none.
    const order = [...variants.flatMap((v) => [v, { ...v, sequence: v.sequence + 100 }]), ...variants.reverse()];
    const target = new Uint8Array(256);
    for (const init of order) {
      const payload = Uint8Array.from([...(init.payloadHead ?? []), ...(init.payload ?? [])]);
      for (const frame of [encodeEnvelope(init), writeAt(target, 5, init)]) {
        expect(decodeEnvelope(frame)).toEqual(expected({ ...init, payloadHead: undefined, payload }));
      }
    }
  });

  it('frames of different kinds alternating, as a request and its reply in one process, each keep their own fields', () => {
    // Headers are kept per kind for reuse: a request and its reply alternate, and a reply with the
    // Last flag must not be taken for one without it (nor the other way round).
    const request = { kind: FrameKind.Request, origin: 3, topic: 'svc.echo', encoding: 1 as PayloadEncoding };
    const reply = { kind: FrameKind.Reply, origin: 4, topic: '_INBOX.3', encoding: 1 as PayloadEncoding };
    const order: EnvelopeInit[] = [];
    for (let i = 1; i <= 6; i += 1) {
      order.push({ ...request, sequence: i, correlation: i, payload: Uint8Array.of(i) });
      order.push({ ...reply, sequence: i, correlation: i, last: i % 3 !== 0, payload: Uint8Array.of(i, i) });
    }
    order.push({ ...reply, origin: 5, sequence: 7, correlation: 7, last: true, payload: Uint8Array.of(7) });
    order.push({ ...request, encoding: 2 as PayloadEncoding, sequence: 8, correlation: 8, payload: Uint8Array.of(8) });
    for (const init of order) expect(decodeEnvelope(encodeEnvelope(init))).toEqual(expected(init));
  });

  it('a payload head is written before the payload and counted in it', () => {
    const head = Uint8Array.of(0xc4, 3);
    const payload = Uint8Array.of(1, 2, 3);
    const init = { kind: FrameKind.Publish, origin: 1, sequence: 1, topic: 'a', payloadHead: head, payload };
    const joined = encodeEnvelope({ ...init, payloadHead: undefined, payload: Uint8Array.of(0xc4, 3, 1, 2, 3) });
    expect(toHex(encodeEnvelope(init))).toBe(toHex(joined));
    expect([...decodeEnvelope(encodeEnvelope(init)).payload]).toEqual([0xc4, 3, 1, 2, 3]);
  });

  it('rejects a bad origin or topic before writing a byte', () => {
    const target = new Uint8Array(64).fill(0xee);
    expect(() => writeEnvelope(target, 0, { kind: FrameKind.Publish, origin: -1, sequence: 1, topic: 'a' })).toThrow(
      FrameError,
    );
    expect(() =>
      writeEnvelope(target, 0, { kind: FrameKind.Publish, origin: 1, sequence: 1, topic: 'x'.repeat(2000) }),
    ).toThrow(FrameError);
    expect(target.every((b) => b === 0xee)).toBe(true);
  });
});

describe('an envelope written around its payload', () => {
  /** `payload` behind `room` bytes of junk, as a codec leaves it. */
  function withRoom(room: number, payload: Uint8Array): Uint8Array {
    const framed = new Uint8Array(room + payload.length).fill(0xee);
    framed.set(payload, room);
    return framed;
  }

  it('writes the head into the room: the frame is the payload array, byte for byte what encodeEnvelope gives', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.constantFrom(FrameKind.Publish, FrameKind.Request, FrameKind.Reply),
        fc.boolean(),
        fc.nat(),
        (topic, payload, kind, last, correlation) => {
          const init = { kind, origin: 9, sequence: 3, topic, correlation, encoding: 1 as PayloadEncoding, last };
          const framed = withRoom(envelopeHeadSize(topic), payload);
          const frame = encodeEnvelopeInRoom({ ...init, payload: framed }, envelopeHeadSize(topic));
          expect(frame).toBe(framed);
          expect(toHex(frame)).toBe(toHex(encodeEnvelope({ ...init, payload })));
        },
      ),
    );
  });

  it('encodes as usual, from the payload past the room, when the head does not fit the room exactly', () => {
    const payload = Uint8Array.of(1, 2, 3);
    const init = { kind: FrameKind.Publish, origin: 9, sequence: 3, topic: 'a.b' };
    const room = envelopeHeadSize('a.b');
    const cases: [EnvelopeInit, number][] = [
      [init, room + 1], // more room than the head
      [init, room - 1], // less
      [{ ...init, headers: { k: 'v' } }, room], // headers take room of their own
      [{ ...init, payloadHead: Uint8Array.of(0xc4, 3) }, room],
      [{ ...init, fragmentCount: 2, fragmentIndex: 1 }, room],
    ];
    for (const [plain, given] of cases) {
      const framed = withRoom(given, payload);
      const frame = encodeEnvelopeInRoom({ ...plain, payload: framed }, given);
      expect(frame).not.toBe(framed);
      expect(toHex(frame)).toBe(toHex(encodeEnvelope({ ...plain, payload })));
      expect(framed.subarray(0, given).every((b) => b === 0xee)).toBe(true); // the room untouched
    }
  });

  it('rejects a bad origin or a topic over the limit, as encodeEnvelope does', () => {
    const room = envelopeHeadSize('a');
    const framed = withRoom(room, Uint8Array.of(1));
    expect(() =>
      encodeEnvelopeInRoom({ kind: FrameKind.Publish, origin: -1, sequence: 1, topic: 'a', payload: framed }, room),
    ).toThrow(FrameError);
    const long = 'x'.repeat(2000);
    expect(() =>
      encodeEnvelopeInRoom(
        { kind: FrameKind.Publish, origin: 1, sequence: 1, topic: long, payload: withRoom(40, Uint8Array.of(1)) },
        envelopeHeadSize(long),
      ),
    ).toThrow(FrameError);
  });
});
