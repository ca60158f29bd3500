import fc from 'fast-check';
import { expect, it } from 'vitest';
import { ControlType, decodeControl, encodeControl, isControl } from '../src/ControlDatagram.js';

it('round-trips Hello and Bye', () => {
  for (const type of [ControlType.Hello, ControlType.Bye]) {
    const c = { type, member: 2 ** 53 - 1, key: '9007199254740991.sock' };
    expect(decodeControl(encodeControl(c))).toEqual(c);
  }
});

it('never throws on arbitrary bytes, and rejects truncation and trailing bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const c = decodeControl(bytes);
      expect(c === undefined || isControl(bytes)).toBe(true);
    }),
  );
  const good = encodeControl({ type: ControlType.Hello, member: 5, key: '5.sock' });
  expect(decodeControl(good.subarray(0, good.length - 1))).toBeUndefined();
  expect(decodeControl(new Uint8Array([...good, 0]))).toBeUndefined();
  const badType = good.slice();
  badType[3] = 9;
  expect(decodeControl(badType)).toBeUndefined();
});
