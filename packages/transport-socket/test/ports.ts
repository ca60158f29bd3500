/**
 * Ports for tests: a block per test file, from the file's worker id, so parallel test files never
 * collide and a hub from one test never answers another.
 */
const base = 20_000 + (Number(process.env['VITEST_POOL_ID'] ?? '1') % 16) * 1000 + Math.floor(Math.random() * 500);
let next = base;

/** A port no other test in this run is using. */
export function nextPort(): number {
  next += 1;
  return next;
}
