/**
 * What the Win32 pipe suites share: a pipe name no other test (or concurrent run) uses, polling
 * until a condition holds, cleanup after each test, and the C fixtures built once per suite.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll } from 'vitest';
import { buildFixtures } from './buildFixtures.js';

/** A short pipe name unique to this process and call: `<prefix>-<pid>-<random>`. */
export const uniqueName = (prefix: string): string => `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Resolve once `check()` holds; reject after `timeout` ms. Polls every 5 ms (completions arrive on the event loop). */
export async function until(check: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A list of cleanups for the enclosing `describe`: what a test pushes is awaited in order after
 * it, pass or fail, so a failed assertion does not leave a pipe or a child process behind.
 */
export function cleanupAfterEach(): Array<() => unknown> {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });
  return cleanup;
}

/**
 * The C fixtures `names`, built once before the enclosing `describe`'s tests (mingw-w64 under
 * Wine takes seconds, hence the long hook timeout). The record is filled in by then: executable
 * path by fixture name.
 */
export function fixturesBeforeAll(names: readonly string[]): Readonly<Record<string, string>> {
  const exe: Record<string, string> = {};
  beforeAll(async () => {
    Object.assign(exe, await buildFixtures(names));
  }, 120_000);
  return exe;
}
