import { ConfigurationError } from '../errors.js';

/** Options of a {@link ReconnectBackoff}. */
export type ReconnectBackoffOptions = Readonly<
  Partial<{
    /** Delay before the first retry, in milliseconds. Default: 20. */
    initialDelay: number;
    /** Ceiling of the delay, in milliseconds. Default: 500. */
    maxDelay: number;
    /** Growth per failed attempt. Default: 2. */
    factor: number;
    /**
     * Fraction of each delay that is randomised, from 0 (none) to 1 (full jitter). Default: 0.5,
     * so a delay `d` becomes a uniform draw in `[d/2, d]`.
     */
    jitter: number;
  }>
>;

/**
 * Exponential backoff with jitter, for reconnecting to a hub. Jitter matters here: when a hub
 * dies, every member notices in the same millisecond, and without it they would retry in lock
 * step and collide again on every attempt (the thundering herd NATS and zeromq also spread out).
 *
 * The random source is injected so the sequence can be tested exactly.
 *
 * @example
 * ```ts
 * const backoff = new ReconnectBackoff({ initialDelay: 10, maxDelay: 1000 });
 * for (;;) {
 *   try { return await connect(); } catch { await sleep(backoff.next()); }
 * }
 * ```
 */
export class ReconnectBackoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: ReconnectBackoffOptions = {}, random: () => number = Math.random) {
    this.#initial = options.initialDelay ?? 20;
    this.#max = options.maxDelay ?? 500;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0.5;
    if (!(this.#initial >= 0) || !(this.#max >= this.#initial) || !(this.#factor >= 1)) {
      throw new ConfigurationError('backoff needs 0 <= initialDelay <= maxDelay and factor >= 1');
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) throw new ConfigurationError('backoff jitter must be within [0, 1]');
    this.#random = random;
  }

  /** Failed attempts since the last {@link reset}. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The delay to wait before the next attempt, in milliseconds; grows with every call. */
  next(): number {
    // Exponent capped so a long outage cannot overflow to Infinity.
    const base = Math.min(this.#max, this.#initial * this.#factor ** Math.min(this.#attempt, 64));
    this.#attempt += 1;
    return base * (1 - this.#jitter * this.#random());
  }

  /** Forget past failures: the next delay is the initial one again. */
  reset(): void {
    this.#attempt = 0;
  }
}
