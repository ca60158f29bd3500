import fc from 'fast-check';
import { expect, it } from 'vitest';
import { encodeBatch, splitBatch } from '../src/DatagramBatch.js';

it('round-trips any list of entries, including empty ones', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 20 }), (parts) => {
      expect(splitBatch(encodeBatch(parts))).toEqual(parts);
    }),
  );
});

it('rejects truncated, overlong, empty and foreign batches; never throws on garbage', () => {
  const good = encodeBatch([new Uint8Array([1, 2, 3]), new Uint8Array([4])]);
  expect(splitBatch(good.subarray(0, good.length - 1))).toBeUndefined();
  const overlong = good.slice();
  new DataView(overlong.buffer).setUint32(4, 1000);
  expect(splitBatch(overlong)).toBeUndefined();
  expect(splitBatch(encodeBatch([]))).toBeUndefined();
  const version = good.slice();
  version[2] = 2;
  expect(splitBatch(version)).toBeUndefined();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => void splitBatch(bytes)));
});
