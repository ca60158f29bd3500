/**
 * HMAC authentication of mailslot datagrams. Anyone who knows a mailslot's (or a socket's) name can
 * write to it; with a shared key every datagram carries a trailer that proves it came from a key
 * holder of this bus, recently, and for the first time.
 *
 * Trailer (36 bytes, big-endian), appended after the datagram body:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0  | 8  | sender: the member id (u64) |
 * | 8  | 4  | counter: per-sender datagram counter (u32, wraps) |
 * | 12 | 8  | timestamp: sender's clock, ms since the epoch (u64) |
 * | 20 | 16 | tag: HMAC-SHA-256(busKey, body ‖ trailer[0..20]) truncated to 128 bits |
 *
 * `busKey = HMAC-SHA-256(sharedKey, "busway-mailslot/v1\0" ‖ busName)`, so a datagram of one bus
 * cannot be replayed into another that shares the key.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigurationError } from '@busway/core';
import { ReplayWindow } from './ReplayWindow.js';

/** Bytes the authenticator adds to every datagram. */
export const AUTH_TRAILER_SIZE = 36;
const TAG_SIZE = 16;
const SIGNED_TRAILER = AUTH_TRAILER_SIZE - TAG_SIZE;

/** Options of a {@link FrameAuthenticator}. */
export type FrameAuthenticatorOptions = Readonly<
  Partial<{
    /** How far a datagram's timestamp may be from the receiver's clock, in ms. Default: 30000. */
    maxAgeMs: number;
    /** Counters remembered per sender below the newest (a power of two ≥ 32). Default: 4096. */
    replayWindow: number;
    /** Senders tracked for replay detection. Default: 4096. */
    maxSenders: number;
    /** Clock, for tests. Default: `Date.now`. */
    now: () => number;
  }>
>;

/** Why {@link FrameAuthenticator.open} rejected a datagram. */
export type RejectReason =
  /** Too short for a trailer, or the tag does not match: not from a key holder, or altered. */
  | 'unauthenticated'
  /** Authentic, but seen before, or older than the replay window or `maxAgeMs`. */
  | 'replayed';

/** Result of {@link FrameAuthenticator.open}. */
export type OpenResult =
  | { readonly ok: true; readonly body: Uint8Array; readonly sender: number }
  | { readonly ok: false; readonly reason: RejectReason };

/**
 * Seals outgoing datagrams and opens incoming ones. Verification order is the protection against
 * duplicate-window poisoning: the tag is checked first, in constant time, and only an authentic
 * datagram may touch the replay window or reach core's duplicate window, so a forged datagram
 * with a far-future sequence number cannot make the real one look like a duplicate.
 *
 * @example
 * ```ts
 * const auth = new FrameAuthenticator(key, 'orders', memberId);
 * const datagram = auth.seal(frame);
 * const opened = peerAuth.open(datagram);
 * if (opened.ok) deliver(opened.body);
 * ```
 */
export class FrameAuthenticator {
  readonly #key: Buffer;
  readonly #sender: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #window: ReplayWindow;
  #counter = 0;
  #lastPrune = 0;

  /**
   * @param sharedKey - at least 16 bytes, the same for every member of the bus.
   * @param bus - the bus name, bound into the key.
   * @param sender - this member's id, carried in every trailer it seals.
   */
  constructor(sharedKey: Uint8Array | string, bus: string, sender: number, options: FrameAuthenticatorOptions = {}) {
    const key = typeof sharedKey === 'string' ? Buffer.from(sharedKey, 'utf8') : Buffer.from(sharedKey);
    if (key.length < 16) throw new ConfigurationError(`the shared key must be at least 16 bytes, got ${key.length}`);
    const windowSize = options.replayWindow ?? 4096;
    if (!Number.isInteger(windowSize) || windowSize < 32 || (windowSize & (windowSize - 1)) !== 0) {
      throw new ConfigurationError(`replayWindow must be a power of two from 32, got ${windowSize}`);
    }
    this.#key = createHmac('sha256', key).update(`busway-mailslot/v1\0${bus}`).digest();
    this.#sender = sender;
    this.#maxAgeMs = options.maxAgeMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#window = new ReplayWindow(windowSize, options.maxSenders ?? 4096);
  }

  /** Append the trailer to `body`; returns a new datagram. */
  seal(body: Uint8Array): Uint8Array {
    const out = new Uint8Array(body.length + AUTH_TRAILER_SIZE);
    out.set(body, 0);
    const view = new DataView(out.buffer, body.length, SIGNED_TRAILER);
    view.setUint32(0, Math.floor(this.#sender / 0x1_0000_0000));
    view.setUint32(4, this.#sender >>> 0);
    view.setUint32(8, this.#counter);
    this.#counter = (this.#counter + 1) >>> 0;
    const now = this.#now();
    view.setUint32(12, Math.floor(now / 0x1_0000_0000));
    view.setUint32(16, now >>> 0);
    const tag = this.#tag(out.subarray(0, body.length + SIGNED_TRAILER));
    out.set(tag.subarray(0, TAG_SIZE), body.length + SIGNED_TRAILER);
    return out;
  }

  /** Verify a datagram; on success `body` is a view of it without the trailer. */
  open(datagram: Uint8Array): OpenResult {
    if (datagram.length < AUTH_TRAILER_SIZE) return { ok: false, reason: 'unauthenticated' };
    const bodyLength = datagram.length - AUTH_TRAILER_SIZE;
    const expected = this.#tag(datagram.subarray(0, bodyLength + SIGNED_TRAILER)).subarray(0, TAG_SIZE);
    const actual = datagram.subarray(bodyLength + SIGNED_TRAILER);
    if (!timingSafeEqual(expected, actual)) return { ok: false, reason: 'unauthenticated' };
    // Authentic from here on: only now may the datagram's claims update any state.
    const view = new DataView(datagram.buffer, datagram.byteOffset + bodyLength, SIGNED_TRAILER);
    const sender = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
    const counter = view.getUint32(8);
    const timestamp = view.getUint32(12) * 0x1_0000_0000 + view.getUint32(16);
    const now = this.#now();
    if (Math.abs(now - timestamp) > this.#maxAgeMs) return { ok: false, reason: 'replayed' };
    if (now - this.#lastPrune > this.#maxAgeMs) {
      // Senders idle longer than maxAge can be forgotten safely: their old datagrams fail the age check.
      this.#window.prune(now - 2 * this.#maxAgeMs);
      this.#lastPrune = now;
    }
    if (!this.#window.accept(sender, counter, now)) return { ok: false, reason: 'replayed' };
    return { ok: true, body: datagram.subarray(0, bodyLength), sender };
  }

  #tag(bytes: Uint8Array): Buffer {
    return createHmac('sha256', this.#key).update(bytes).digest();
  }
}
