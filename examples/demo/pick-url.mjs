/**
 * Which bus the demo joins: BUSWAY_URL when set, else the best transport this platform has,
 * judged by what is installed and able to open here.
 */
import { createBus } from '@busway/core';

/** Fastest first. */
const CANDIDATES = ['mmf://busway-demo', 'pipe://busway-demo', 'tcp://127.0.0.1:7499'];

export async function pickUrl() {
  if (process.env.BUSWAY_URL) return { url: process.env.BUSWAY_URL, why: 'from BUSWAY_URL' };
  for (const url of CANDIDATES) {
    try {
      // Opening and closing a member proves the transport works here, not just that it installed.
      const probe = await createBus(url);
      await probe.close();
      return { url, why: 'the best transport available here' };
    } catch (err) {
      if (process.env.BUSWAY_DEBUG) console.error(`demo: ${url} unavailable: ${err.message}`);
    }
  }
  return { url: 'memory://busway-demo', why: 'no cross-process transport is available: one process only' };
}
