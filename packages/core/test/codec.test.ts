import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { codecFor, jsonCodec, msgpackCodec, rawCodec } from '../src/codec.js';
import { PayloadEncoding } from '../src/envelope.js';
import { CodecError } from '../src/errors.js';

describe('payload codecs', () => {
  it('round-trip their values', () => {
    const value = { a: 1, b: 'two', c: [true, null] };
    expect(msgpackCodec.decode(msgpackCodec.encode(value))).toEqual(value);
    // Binary comes back as bytes (a Node Buffer, which is a Uint8Array).
    const bytes = msgpackCodec.decode(msgpackCodec.encode(new Uint8Array([1, 2])));
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...(bytes as Uint8Array)]).toEqual([1, 2]);
    expect(jsonCodec.decode(jsonCodec.encode({ a: [1, 'x'] }))).toEqual({ a: [1, 'x'] });
    expect(rawCodec.decode(rawCodec.encode(new Uint8Array([9, 8])))).toEqual(new Uint8Array([9, 8]));
  });

  it('msgpack decodes exactly the bytes of a payload in a shared buffer, whichever buffers alternate', () => {
    // Payloads are views into a socket read or a reader's run, with other frames around them.
    const a = msgpackCodec.encode({ n: 1 });
    const b = msgpackCodec.encode('second');
    const shared = new Uint8Array(64).fill(0xc1); // 0xc1: a byte msgpack never uses
    shared.set(a, 3);
    shared.set(b, 20);
    const other = new Uint8Array(32).fill(0xc1);
    other.set(b, 7);
    expect(msgpackCodec.decode(shared.subarray(3, 3 + a.length))).toEqual({ n: 1 });
    expect(msgpackCodec.decode(other.subarray(7, 7 + b.length))).toBe('second');
    expect(msgpackCodec.decode(shared.subarray(20, 20 + b.length))).toBe('second');
    // The buffer is read as it is now, not as it was when first decoded from.
    shared.set(msgpackCodec.encode(42), 3);
    expect(msgpackCodec.decode(shared.subarray(3, 4))).toBe(42);
    // Bytes of the buffer past the payload's end are not the payload's.
    expect(() => msgpackCodec.decode(shared.subarray(3, 3 + a.length - 1))).toThrow(CodecError);
    expect(() => msgpackCodec.decode(shared.subarray(20, 20 + b.length + 1))).toThrow(CodecError);
    expect(() => msgpackCodec.decode(shared.subarray(5, 5))).toThrow(CodecError);
    // A large buffer (a reassembled message) decodes too.
    const big = new Uint8Array(5 * 1024 * 1024 + 16);
    big.set(a, big.length - a.length);
    expect(msgpackCodec.decode(big.subarray(big.length - a.length))).toEqual({ n: 1 });
  });

  it('msgpack writes binary values as the same bin 8/16/32 bytes msgpackr writes', () => {
    const reference = new Packr({ useRecords: false, moreTypes: false });
    for (const size of [0, 1, 255, 256, 65_535, 65_536, 70_000]) {
      const value = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff);
      const encoded = msgpackCodec.encode(value);
      expect(Buffer.from(encoded).equals(Buffer.from(reference.pack(value))), `${size} bytes`).toBe(true);
      expect([...(msgpackCodec.decode(encoded) as Uint8Array)]).toEqual([...value]);
    }
    // A Buffer, and a view that does not start its buffer, encode their own bytes only.
    const backing = Buffer.from([9, 1, 2, 3, 9]);
    expect([...msgpackCodec.encode(backing.subarray(1, 4))]).toEqual([0xc4, 3, 1, 2, 3]);
    expect([...msgpackCodec.encode(new Uint8Array(backing.buffer, backing.byteOffset + 1, 2))]).toEqual([
      0xc4, 2, 1, 2,
    ]);
  });

  it("msgpack's head of a binary value followed by the value is its encoding; other values have no head", () => {
    for (const size of [0, 1, 255, 256, 65_535, 65_536]) {
      const value = Uint8Array.from({ length: size }, (_, i) => (i * 5) & 0xff);
      const head = msgpackCodec.head?.(value);
      expect(head, `${size} bytes`).toBeDefined();
      const joined = Buffer.concat([head as Uint8Array, value]);
      expect(joined.equals(Buffer.from(msgpackCodec.encode(value))), `${size} bytes`).toBe(true);
    }
    for (const value of [{ a: 1 }, 'text', 3, null, [new Uint8Array(2)]])
      expect(msgpackCodec.head?.(value)).toBeUndefined();
  });

  it('msgpack decodes a binary payload as a copy, and rejects one that is cut short or followed by more', () => {
    const encoded = msgpackCodec.encode(new Uint8Array([5, 6, 7]));
    const frame = new Uint8Array([0xee, ...encoded, 0xee]);
    const payload = frame.subarray(1, 1 + encoded.length);
    const decoded = msgpackCodec.decode(payload) as Uint8Array;
    frame[3] = 99; // the transport reuses its buffer after delivery
    expect([...decoded]).toEqual([5, 6, 7]);
    expect(() => msgpackCodec.decode(encoded.subarray(0, encoded.length - 1))).toThrow(CodecError);
    expect(() => msgpackCodec.decode(frame.subarray(1, 2 + encoded.length))).toThrow(CodecError);
    expect(() => msgpackCodec.decode(new Uint8Array([0xc5, 0x00]))).toThrow(CodecError);
    expect(() => msgpackCodec.decode(new Uint8Array([0xc6, 0, 0, 1]))).toThrow(CodecError);
  });

  it('binary and raw payloads of every size decode as copies that do not overlap', () => {
    for (const size of [0, 1, 64, 65, 200, 1024, 1025, 5000]) {
      const value = new Uint8Array(size).map((_, i) => i % 251);
      const encoded = msgpackCodec.encode(value);
      const frame = new Uint8Array([0xee, ...encoded, ...encoded]);
      const first = msgpackCodec.decode(frame.subarray(1, 1 + encoded.length)) as Uint8Array;
      const second = msgpackCodec.decode(frame.subarray(1 + encoded.length)) as Uint8Array;
      const raw = rawCodec.decode(frame.subarray(1, 1 + size)) as Uint8Array;
      frame.fill(0xaa); // the transport reuses its buffer after delivery
      expect(Object.getPrototypeOf(first) === Uint8Array.prototype).toBe(true);
      expect(Object.getPrototypeOf(raw) === Uint8Array.prototype).toBe(true);
      expect([first.length, second.length, raw.length]).toEqual([size, size, size]);
      expect(first).toEqual(value);
      second.fill(1);
      expect(first).toEqual(value);
      expect([...raw]).toEqual([...encoded.subarray(0, size)]);
    }
  });

  it('raw decode copies, even from a Node Buffer view', () => {
    const backing = Buffer.from([1, 2, 3, 4]);
    const view = backing.subarray(1, 3);
    const decoded = rawCodec.decode(view) as Uint8Array;
    backing[1] = 99;
    expect([...decoded]).toEqual([2, 3]);
  });

  it('fail with CodecError, never a bare error', () => {
    expect(() => rawCodec.encode('text')).toThrow(CodecError);
    expect(() => jsonCodec.decode(new Uint8Array([0xff, 0xfe]))).toThrow(CodecError);
    expect(() => jsonCodec.encode(10n)).toThrow(CodecError);
    // An array announcing two elements that carries one: truncated.
    expect(() => msgpackCodec.decode(new Uint8Array([0x92, 0x01]))).toThrow(CodecError);
    expect(() => codecFor(7)).toThrow(CodecError);
  });

  it('are found by the encoding written in the envelope', () => {
    expect(codecFor(PayloadEncoding.MsgPack)).toBe(msgpackCodec);
    expect(codecFor(PayloadEncoding.Json)).toBe(jsonCodec);
    expect(codecFor(PayloadEncoding.Raw)).toBe(rawCodec);
  });
});

describe('msgpack encoding with room in front', () => {
  it('leaves `room` bytes free, then exactly what encode gives, for any value', () => {
    const values: unknown[] = [{ a: 1, b: 'two', c: [true, null] }, 'text', 42, null, [1, [2]], { d: new Date(0) }];
    for (const value of values) {
      for (const room of [0, 1, 40, 57, 255]) {
        const framed = msgpackCodec.encodeWithRoom?.(value, room) as Uint8Array;
        expect(framed).toBeDefined();
        expect([...framed.subarray(room)]).toEqual([...msgpackCodec.encode(value)]);
        expect(msgpackCodec.decode(framed.subarray(room))).toEqual(value);
      }
    }
  });

  it('gives nothing for binary values (they go behind their head) or for more room than msgpackr leaves', () => {
    expect(msgpackCodec.encodeWithRoom?.(new Uint8Array(3), 40)).toBeUndefined();
    expect(msgpackCodec.encodeWithRoom?.({ a: 1 }, 256)).toBeUndefined();
  });

  it('keeps what it gave: later encodings do not write over an earlier one', () => {
    const first = msgpackCodec.encodeWithRoom?.({ first: 'x'.repeat(100) }, 50) as Uint8Array;
    first.fill(0xab, 0, 50); // the caller fills the room
    const copy = Uint8Array.from(first);
    for (let i = 0; i < 1000; i += 1) msgpackCodec.encodeWithRoom?.({ i, pad: 'y'.repeat(i % 300) }, 50);
    expect([...first]).toEqual([...copy]);
  });

  it('throws CodecError for a value msgpack cannot carry', () => {
    expect(() => msgpackCodec.encodeWithRoom?.({ f: () => 1, big: 2n ** 70n }, 10)).toThrow(CodecError);
  });
});

describe('msgpack decoding from shared buffers', () => {
  it('copies binary values out of the frame, which a transport may reuse', () => {
    const frame = new Uint8Array(64);
    const encoded = msgpackCodec.encode({ blob: new Uint8Array([1, 2, 3]) });
    frame.set(encoded, 10);
    const decoded = msgpackCodec.decode(frame.subarray(10, 10 + encoded.length)) as { blob: Uint8Array };
    frame.fill(0xee);
    expect([...decoded.blob]).toEqual([1, 2, 3]);
  });

  it('decodes views at any offset of the same buffer, one after another', () => {
    const buffer = new Uint8Array(256);
    const a = msgpackCodec.encode({ n: 1 });
    const b = msgpackCodec.encode(['two', 2]);
    buffer.set(a, 0);
    buffer.set(b, 100);
    expect(msgpackCodec.decode(buffer.subarray(100, 100 + b.length))).toEqual(['two', 2]);
    expect(msgpackCodec.decode(buffer.subarray(0, a.length))).toEqual({ n: 1 });
    // A truncated view must fail even though the buffer goes on past its end.
    expect(() => msgpackCodec.decode(buffer.subarray(100, 100 + b.length - 1))).toThrow();
  });
});
