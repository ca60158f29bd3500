import { BuswayError, type BuswayErrorOptions } from '../errors.js';

/**
 * A peer began a frame and did not finish it in time: a slowloris, a peer that hung mid-write, or
 * a link far too slow for the frame size. Only that link is closed, with this as the reason; the
 * decoder had allocated at most the announced (already bounded) frame for it.
 *
 * @example
 * ```ts
 * link.start({
 *   onFrame,
 *   onClose: (err) => {
 *     if (err instanceof StalledFrameError) console.warn(`peer stalled after ${err.received} bytes, ${err.timeout} ms`);
 *   },
 * });
 * ```
 */
export class StalledFrameError extends BuswayError {
  /** Bytes of the unfinished frame (its length prefix included) received before the link was dropped. */
  readonly received: number;
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number;

  constructor(received: number, timeout: number, options?: BuswayErrorOptions) {
    super(
      'STALLED_FRAME',
      `peer sent ${received} bytes of a frame and did not finish it within ${timeout} ms`,
      options,
    );
    this.name = 'StalledFrameError';
    this.received = received;
    this.timeout = timeout;
  }
}
