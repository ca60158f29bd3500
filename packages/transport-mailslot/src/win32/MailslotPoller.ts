/**
 * Non-blocking reads of mailslots whose handles cannot be associated with an I/O completion port.
 * Under Wine 8 that is every mailslot: `CreateIoCompletionPort` on a mailslot handle fails with
 * `ERROR_INVALID_PARAMETER`, whether the slot came from `CreateMailslotW` (which Wine opens with
 * `FILE_SYNCHRONOUS_IO_NONALERT`) or from `NtCreateMailslotFile` with no options (checked by hand).
 *
 * One timer for every such slot of the process: each tick asks `GetMailslotInfo` for the next
 * message's size and reads it with a zero read timeout, so no call ever waits and no worker thread
 * is parked. (A blocking `ReadFile` per slot on a worker thread would wake sooner, but parks one of
 * libuv's four pool threads per slot, which the completion port pump also needs: a few members in
 * one process could starve it.) For `HOT_MS` after the last message in or out the slots are polled
 * on every loop turn (`setImmediate`), because a reply usually follows soon; then the interval
 * doubles from 1 ms up to `maxIntervalMs`.
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
let immediate: ReturnType<typeof setImmediate> | undefined;
/** How long polling stays on every loop turn after activity, in ms. */
const HOT_MS = 2;
let lastActivity = 0;
let interval = 1;
/** Longest idle interval between two polls, in ms. */
let maxIntervalMs = 16;

/**
 * Start polling a slot.
 *
 * @example
 * ```ts
 * const stop = pollMailslot({ handle, onMessage: (b) => console.log(b.length), onError: console.error });
 * stop();
 * ```
 */
export function pollMailslot(slot: PolledSlot, idleIntervalMs = 16): () => void {
  slots.add(slot);
  maxIntervalMs = Math.max(1, Math.min(maxIntervalMs, idleIntervalMs));
  interval = 1;
  schedule(0);
  return () => {
    slots.delete(slot);
    if (slots.size === 0) {
      if (timer !== undefined) clearTimeout(timer);
      if (immediate !== undefined) clearImmediate(immediate);
      timer = undefined;
      immediate = undefined;
    }
  };
}

/**
 * Note activity (a message was just sent): a reply is likely soon, so poll on every loop turn
 * for a moment.
 *
 * @example
 * ```ts
 * writer.startWrite(request, done);
 * kickMailslotPoller();
 * ```
 */
export function kickMailslotPoller(): void {
  lastActivity = performance.now();
  interval = 1;
  if (slots.size > 0 && immediate === undefined) schedule(0);
}

function schedule(ms: number): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  if (immediate !== undefined) clearImmediate(immediate);
  immediate = undefined;
  if (ms === 0) immediate = setImmediate(tick);
  else timer = setTimeout(tick, ms);
}

function tick(): void {
  timer = undefined;
  immediate = undefined;
  let got = 0;
  for (const slot of [...slots]) got += drain(slot);
  if (slots.size === 0) return;
  const now = performance.now();
  if (got > 0) lastActivity = now;
  const hot = now - lastActivity < HOT_MS;
  interval = hot ? 1 : Math.min(interval * 2, maxIntervalMs);
  schedule(hot ? 0 : interval);
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
