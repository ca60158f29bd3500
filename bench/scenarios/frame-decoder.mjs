/**
 * FrameDecoder throughput on 64 KiB frames (goal: at least 1 GB/s), against the floor of copying
 * the same stream into 64 KiB buffers.
 */
import { encodeEnvelope, encodeLengthPrefixed, FrameDecoder, FrameKind } from '@busway/core/internal';

const FRAME = 64 * 1024;
const FRAMES = 64; // a 4 MiB stream, replayed

function stream() {
  const topic = 'bench.frames';
  const payload = new Uint8Array(FRAME - 40 - topic.length).fill(0x5a);
  const one = encodeLengthPrefixed(encodeEnvelope({ kind: FrameKind.Publish, origin: 1, sequence: 1, topic, payload }));
  const out = new Uint8Array(one.length * FRAMES);
  for (let i = 0; i < FRAMES; i += 1) out.set(one, i * one.length);
  return out;
}

/** Cut the stream in `chunkSize` pieces, as socket reads would. */
function chunks(bytes, chunkSize) {
  const out = [];
  for (let at = 0; at < bytes.length; at += chunkSize) out.push(bytes.subarray(at, at + chunkSize));
  return out;
}

/** Push the chunks repeatedly for `durationMs`; MB/s of stream bytes decoded. */
function drive(label, decodePass, bytes, durationMs) {
  // Untimed warm-up so the JIT and the heap settle before the clock starts, whichever scenario runs first.
  const warm = performance.now() + durationMs / 4;
  while (performance.now() < warm) decodePass();
  let frames = 0;
  let passes = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  while (performance.now() < deadline) {
    frames += decodePass();
    passes += 1;
  }
  const elapsed = performance.now() - t0;
  if (frames !== passes * FRAMES) throw new Error(`${label}: decoded ${frames} frames, expected ${passes * FRAMES}`);
  const perSec = (frames * 1000) / elapsed;
  return { msgsPerSec: perSec, mbPerSec: (passes * bytes.length) / 1000 / elapsed, samples: frames };
}

function decoderScenario(name, chunkSize, goal) {
  return {
    name,
    group: 'frame-decoder',
    goal,
    run: ({ durationMs }) => {
      const bytes = stream();
      const parts = chunks(bytes, chunkSize);
      const decoder = new FrameDecoder();
      let sink = 0;
      const onFrame = (f) => {
        sink += f.length; // touch the frame so the call cannot be elided
      };
      return drive(
        name,
        () => {
          const before = sink;
          for (const c of parts) decoder.push(c, onFrame);
          return (sink - before) / FRAME;
        },
        bytes,
        durationMs,
      );
    },
  };
}

export const scenarios = [
  {
    name: 'memcpy into 64 KiB frames',
    group: 'frame-decoder',
    baseline: true,
    run: ({ durationMs }) => {
      // The floor for a decoder that must copy frames straddling reads: one allocation and one copy per frame.
      const bytes = stream();
      const step = bytes.length / FRAMES;
      return drive(
        'memcpy',
        () => {
          for (let i = 0; i < FRAMES; i += 1) new Uint8Array(FRAME).set(bytes.subarray(i * step + 4, (i + 1) * step));
          return FRAMES;
        },
        bytes,
        durationMs,
      );
    },
  },
  // The goal (issue 2): at least 1 GB/s on 64 KiB frames arriving in socket-sized reads.
  decoderScenario('FrameDecoder, 64 KiB reads (frames straddle reads: copied)', 64 * 1024, {
    metric: 'mbPerSec',
    atLeast: 1000,
  }),
  decoderScenario('FrameDecoder, 1 MiB reads (mostly zero-copy views)', 1024 * 1024),
  decoderScenario('FrameDecoder, 1500-byte reads (MTU-sized)', 1500),
];
