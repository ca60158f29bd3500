/**
 * Non-blocking reads of mailslots whose handles cannot be associated with an I/O completion port.
 * Under Wine 8 that is every mailslot: `CreateIoCompletionPort` on a mailslot handle fails with
 * `ERROR_INVALID_PARAMETER`, whether the slot came from `CreateMailslotW` (which Wine opens with
 * `FILE_SYNCHRONOUS_IO_NONALERT`) or from `NtCreateMailslotFile` with no options (checked by hand).
 *
 * One timer for every such slot of the process: each tick asks `GetMailslotInfo` for the next
 * message's size and reads it with a zero read timeout, so no call ever waits and no worker thread
 * is parked. While messages keep coming the slots are drained again on the next turn; when idle,
 * the interval doubles from 1 ms up to `maxIntervalMs`.
 *
 * @module
 */
import { getMailslotInfo, readFile, type Win32Handle } from '@busway/win32';

/** A slot being polled, and where its messages go. */
export interface PolledSlot {
  readonly handle: Win32Handle;
  readonly onMessage: (bytes: Uint8Array) => void;
  readonly onError: (error: unknown) => void;
}

const slots = new Set<PolledSlot>();
let timer: ReturnType<typeof setTimeout> | undefined;
let interval = 1;
/** Longest idle interval between two polls, in ms. */
let maxIntervalMs = 4;

/**
 * Start polling a slot.
 *
 * @example
 * ```ts
 * const stop = pollMailslot({ handle, onMessage: (b) => console.log(b.length), onError: console.error });
 * stop();
 * ```
 */
export function pollMailslot(slot: PolledSlot, idleIntervalMs = 4): () => void {
  slots.add(slot);
  maxIntervalMs = Math.max(1, Math.min(maxIntervalMs, idleIntervalMs));
  interval = 1;
  schedule(0);
  return () => {
    slots.delete(slot);
    if (slots.size === 0 && timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
  };
}

function schedule(ms: number): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = setTimeout(tick, ms);
}

function tick(): void {
  timer = undefined;
  let got = 0;
  for (const slot of [...slots]) got += drain(slot);
  if (slots.size === 0) return;
  interval = got > 0 ? 1 : Math.min(interval * 2, maxIntervalMs);
  schedule(got > 0 ? 0 : interval);
}

/** Read what is queued now, at most 256 messages, so one busy slot cannot starve the others. */
function drain(slot: PolledSlot): number {
  let n = 0;
  try {
    for (; n < 256 && slots.has(slot); n += 1) {
      const { nextSize } = getMailslotInfo(slot.handle);
      if (nextSize === undefined) break;
      slot.onMessage(readFile(slot.handle, Math.max(1, nextSize)).bytes);
    }
  } catch (err) {
    slots.delete(slot);
    slot.onError(err);
  }
  return n;
}
