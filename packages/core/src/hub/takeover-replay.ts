import { FrameKind, peekRoute } from '../envelope.js';
import { isInbox } from '../inbox.js';
import type { RouterLink } from '../interest-router.js';
import { matchTopic } from '../topic.js';

interface HeldFrame<L> {
  readonly frame: Uint8Array;
  readonly topic: string;
  readonly from: L;
}

/**
 * What a hub that just took over does for the frames published in its first moments. Members
 * reconnect one by one and re-announce their interest only once connected, so a publish that
 * reaches the new hub first would find nobody interested and be lost, although its subscribers
 * are back a few milliseconds later. For a grace period the hub keeps a copy of every `Publish`
 * it routes (bounded in bytes) and offers the matching ones to each link that subscribes during
 * that period. A member that already had a frame drops the copy as a duplicate (the bus
 * suppresses duplicates by origin and sequence), so the replay can only add, never repeat.
 *
 * @example
 * ```ts
 * const replay = new TakeoverReplay<Link>(8 << 20, 1000);
 * router.route(frame, from);
 * replay.observe(frame, from); // after routing: holds publishes, replays to new subscribers
 * ```
 */
export class TakeoverReplay<L extends RouterLink> {
  readonly #limit: number;
  readonly #until: number;
  readonly #now: () => number;
  readonly #timer: ReturnType<typeof setTimeout>;
  #held: HeldFrame<L>[] = [];
  #bytes = 0;
  #replayed = 0;

  /**
   * @param limit - Most bytes held; publishes past it are not held (they were routed as usual).
   * @param graceMs - How long after the takeover publishes are held and replayed.
   * @param now - Clock, injectable for tests.
   */
  constructor(limit: number, graceMs: number, now: () => number = Date.now) {
    this.#limit = limit;
    this.#now = now;
    this.#until = now() + graceMs;
    // Release the copies when the period ends even if no frame comes to notice it.
    this.#timer = setTimeout(() => this.release(), graceMs);
    this.#timer.unref?.();
  }

  /** Frames offered again to late subscribers so far. */
  get replayed(): number {
    return this.#replayed;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Look at a frame the router has just routed (so it is well formed): hold a publish, or replay
   * the held publishes that match a subscription to the link that made it.
   */
  observe(frame: Uint8Array, from: L): void {
    if (this.#held.length === 0 && this.#bytes === 0 && this.#now() > this.#until) return;
    if (this.#now() > this.#until) {
      this.release();
      return;
    }
    const kind = frame[3];
    if (kind === FrameKind.Publish) {
      if (this.#bytes + frame.length > this.#limit) return;
      const topic = peekRoute(frame).topic;
      // Never held: an inbox's frames go to its member alone, and replaying by pattern would hand
      // them to whoever subscribes to `>` (the router does not route them by interest either).
      if (isInbox(topic)) return;
      // A copy: the frame may be a view into a socket chunk that is reused or kept alive by it.
      this.#held.push({ frame: frame.slice(), topic, from });
      this.#bytes += frame.length;
    } else if (kind === FrameKind.Subscribe) {
      const pattern = peekRoute(frame).topic;
      for (const held of this.#held) {
        if (held.from !== from && matchTopic(pattern, held.topic)) {
          from.deliver(held.frame);
          this.#replayed += 1;
        }
      }
    }
  }

  /** Drop every copy; the grace period is over (or the hub is closing). */
  release(): void {
    clearTimeout(this.#timer);
    this.#held = [];
    this.#bytes = 0;
  }
}
