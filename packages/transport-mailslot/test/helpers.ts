/**
 * Test helpers: a private socket base per test file and buses on the mailslot transport.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBus, registerTransport, type Bus, type BusOptions } from '@busway/core';
import { createTransport } from '../src/index.js';

registerTransport('mailslot', createTransport);

let counter = 0;

/** A fresh base directory (the transport creates `busway-<uid>/mailslot/<bus>` inside). */
export function newBase(): { base: string; remove: () => void } {
  const base = mkdtempSync(join(tmpdir(), 'bw-ms-'));
  return { base, remove: () => rmSync(base, { recursive: true, force: true }) };
}

/** A bus name unique within the process. */
export function uniqueBus(prefix = 't'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** Open a bus on `mailslot://<bus>` under `base`. */
export function openBus(
  url: string,
  base: string,
  options: Partial<BusOptions> = {},
  transportOptions: Record<string, unknown> = {},
): Promise<Bus> {
  return createBus({ url, ...options, transportOptions: { directory: base, heartbeatMs: 200, ...transportOptions } });
}

/** Wait until `predicate` holds, polling every 5 ms, failing after `ms`. */
export async function until(predicate: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
