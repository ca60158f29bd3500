/**
 * The envelope codec on the hot path of every message: encode (sender), decode (receiver), and
 * check + peek (a hub routing without decoding), against the floor of allocating and copying a
 * frame of the same size.
 */
import { checkEnvelopeHeader, decodeEnvelope, encodeEnvelope, FrameKind, peekRoute } from '@busway/core/internal';

const init = {
  kind: FrameKind.Publish,
  origin: 0x1234_5678_9abc,
  sequence: 1,
  topic: 'bench.orders',
  encoding: 1,
  payload: new Uint8Array(64).fill(0x61),
};
const frame = encodeEnvelope(init);

/** Run `op` in batches for `durationMs` after a warm-up; ops per second. */
function ops(op, durationMs) {
  const batch = 4096;
  const warm = performance.now() + durationMs / 4;
  while (performance.now() < warm) for (let i = 0; i < batch; i += 1) op(i);
  let count = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  while (performance.now() < deadline) {
    for (let i = 0; i < batch; i += 1) op(i);
    count += batch;
  }
  const perSec = (count * 1000) / (performance.now() - t0);
  return { msgsPerSec: perSec, mbPerSec: (perSec * frame.length) / 1e6, samples: count };
}

let sink = 0;

export const scenarios = [
  {
    name: 'allocate + copy the frame',
    group: 'envelope-codec',
    baseline: true,
    run: ({ durationMs }) =>
      ops(() => {
        const copy = new Uint8Array(frame.length);
        copy.set(frame);
        sink += copy[3];
      }, durationMs),
  },
  {
    name: 'encodeEnvelope',
    group: 'envelope-codec',
    run: ({ durationMs }) =>
      ops((i) => {
        sink += encodeEnvelope({ ...init, sequence: i })[3];
      }, durationMs),
  },
  {
    name: 'decodeEnvelope',
    group: 'envelope-codec',
    run: ({ durationMs }) =>
      ops(() => {
        sink += decodeEnvelope(frame).sequence;
      }, durationMs),
  },
  {
    name: 'checkEnvelopeHeader + peekRoute (hub)',
    group: 'envelope-codec',
    run: ({ durationMs }) =>
      ops(() => {
        checkEnvelopeHeader(frame, frame.length);
        sink += peekRoute(frame).kind;
      }, durationMs),
  },
];

// Keep `sink` observable so the measured work cannot be optimised away.
process.on('exit', () => sink === -1 && console.log(sink));
