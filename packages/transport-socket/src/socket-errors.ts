/**
 * Errors specific to the socket transports. Each extends core's `BuswayError` with a stable `code`.
 *
 * @module
 */
import { BuswayError, type BuswayErrorOptions } from '@busway/core';

/**
 * The connection handshake did not complete: wrong protocol, truncated, or not within the
 * handshake timeout (a slowloris at connect).
 *
 * @example
 * ```ts
 * link.start({ onFrame, onClose: (err) => { if (err instanceof HandshakeError) console.warn(err.code); } });
 * ```
 */
export class HandshakeError extends BuswayError {
  constructor(message: string, options?: BuswayErrorOptions) {
    super('HANDSHAKE_FAILED', message, options);
    this.name = 'HandshakeError';
  }
}

/**
 * The peer did not prove knowledge of the shared secret (or this side has none and the peer
 * requires one). Nothing from an unauthenticated peer is delivered.
 *
 * @example
 * ```ts
 * await FramedTcpClient.connect({ port: 7400, secret: 'wrong' }).catch((err) => err.code === 'AUTH_FAILED');
 * ```
 */
export class AuthenticationError extends BuswayError {
  constructor(message: string, options?: BuswayErrorOptions) {
    super('AUTH_FAILED', message, options);
    this.name = 'AuthenticationError';
  }
}
