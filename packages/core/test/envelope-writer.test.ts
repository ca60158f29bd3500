import { describe, expect, it } from 'vitest';
import { encodeEnvelope, FrameKind } from '../src/envelope.js';
import { EnvelopeWriter } from '../src/envelope-writer.js';

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('EnvelopeWriter', () => {
  it('EnvelopeWriter writes once per arming, and forgets the payload when disarmed', () => {
    const writer = new EnvelopeWriter();
    const init = { kind: FrameKind.Publish, topic: 'a.b', payload: Uint8Array.of(5, 6) };
    const size = writer.arm(init, 42, 3);
    const target = new Uint8Array(size);
    writer.writeFrame(target, 0);
    expect(toHex(target)).toBe(toHex(encodeEnvelope({ ...init, origin: 42, sequence: 3 })));
    expect(() => writer.writeFrame(target, 0)).toThrow(/outside sendInPlace/);
    writer.arm(init, 42, 4);
    writer.disarm();
    expect(() => writer.writeFrame(target, 0)).toThrow(/outside sendInPlace/);
  });
});
