/**
 * Measurement helpers shared by every scenario: percentiles of round-trip samples, and the shape
 * of the figures a scenario reports.
 *
 * A scenario's `run(ctx)` resolves to {@link Figures}:
 *   { msgsPerSec?, mbPerSec?, p50Us?, p99Us?, samples?, note? }  or  { skipped: 'why' }.
 *
 * @module
 */

/**
 * The p50 and p99 of round-trip samples, in microseconds.
 *
 * @example
 * const { p50Us, p99Us } = percentiles([1200n, 1500n, 900n]); // samples in nanoseconds
 */
export function percentiles(samplesNs) {
  const sorted = BigInt64Array.from(samplesNs).sort();
  const at = (q) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]) / 1000;
  return { p50Us: at(0.5), p99Us: at(0.99), samples: sorted.length };
}

/**
 * How long every scenario runs untimed before it is measured, in each round: see
 * {@link timeRoundTrips} for why, and {@link afterWarmUp} for one-way rows.
 */
export const WARM_UP_MS = 1000;

/**
 * Time round trips with one request in flight: untimed ones first (at least `warmup` of them and
 * for at least `warmupMs`), then as many as fit in `durationMs`, each timed on its own with
 * `process.hrtime.bigint()`.
 *
 * The warm-up is bounded by time as well as by count because each round starts its far end in a
 * fresh child process: 500 round trips of a busway member took about 50 ms, too little for V8 to
 * optimise the bus's code on both ends, so the rounds timed a cold process: busway tcp:// p50
 * 92–148 µs and p99 1.4–3.4 ms with no warm-up, 58–88 µs and 120–200 µs after 1 s, alternating
 * in one run. Every row of a group gets the same warm-up.
 *
 * @example
 * const figures = await timeRoundTrips(() => client.ask(msg), { durationMs: 1000 });
 */
export async function timeRoundTrips(roundTrip, { durationMs, warmup = 500, warmupMs = WARM_UP_MS }) {
  const warm = performance.now() + warmupMs;
  for (let i = 0; i < warmup || performance.now() < warm; i += 1) await roundTrip();
  const samples = [];
  const deadline = performance.now() + durationMs;
  // Check the clock every 64 round trips: reading it every time would show in sub-microsecond figures.
  while (performance.now() < deadline) {
    for (let i = 0; i < 64; i += 1) {
      const t0 = process.hrtime.bigint();
      await roundTrip();
      samples.push(process.hrtime.bigint() - t0);
    }
  }
  return percentiles(samples);
}

/**
 * One-way rows: run `pass(WARM_UP_MS)` untimed, then return `pass(durationMs)`. A pass sends for
 * the given time and resolves to its figures once the receiver has counted everything; receivers
 * reset their count at the end of each pass, so the measured pass starts from a warm process at
 * both ends (the same reason as for round trips, see {@link timeRoundTrips}).
 *
 * @example
 * return afterWarmUp((ms) => sendAndCount(ms, 64, send, finish), durationMs);
 */
export async function afterWarmUp(pass, durationMs) {
  await pass(WARM_UP_MS);
  return pass(durationMs);
}

/**
 * One pass of a peer's one-way row: call `send()` in batches of 256 for `ms` (awaiting it only when
 * it returns a promise, so a socket write that needs no 'drain' costs no microtask), then
 * `finish()`, which ends the run and resolves to the receiver's count. Throws when the receiver
 * counted other than what was sent.
 *
 * @example
 * const pass = (ms) => sendAndCount(ms, 64, () => sock.send(msg), () => endRun());
 */
export async function sendAndCount(ms, size, send, finish) {
  let sent = 0;
  const t0 = performance.now();
  const deadline = t0 + ms;
  while (performance.now() < deadline) {
    for (let i = 0; i < 256; i += 1) {
      sent += 1;
      const pending = send();
      if (pending !== undefined) await pending;
    }
  }
  const count = await finish();
  const elapsed = performance.now() - t0;
  if (count !== sent) throw new Error(`receiver counted ${count} of ${sent} messages`);
  return throughput(count, size, elapsed);
}

/**
 * Throughput figures from a count of messages of `size` bytes moved in `elapsedMs`.
 *
 * @example
 * return throughput(count, 64, performance.now() - t0);
 */
export function throughput(count, size, elapsedMs) {
  const perSec = (count * 1000) / elapsedMs;
  return { msgsPerSec: perSec, mbPerSec: (perSec * size) / 1e6, samples: count };
}
