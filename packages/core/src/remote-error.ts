/**
 * How a handler's error crosses the wire: JSON `{ name, message, code }`, independent of the
 * payload codec so any member can read it.
 *
 * @module
 */
import { RemoteError } from './errors.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Encode an error thrown by a handler.
 *
 * @example
 * ```ts
 * const payload = encodeRemoteError(new TypeError('bad sku'));
 * ```
 */
export function encodeRemoteError(error: unknown): Uint8Array {
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as { code?: unknown }).code;
  return textEncoder.encode(
    JSON.stringify({ name: e.name, message: e.message, code: typeof code === 'string' ? code : undefined }),
  );
}

/**
 * Decode an error sent by a remote handler into a {@link RemoteError} whose `name`, `message` and
 * `code` are the handler's.
 *
 * @example
 * ```ts
 * observer.error(decodeRemoteError(envelope.payload));
 * ```
 */
export function decodeRemoteError(payload: Uint8Array): RemoteError {
  try {
    const parsed = JSON.parse(textDecoder.decode(payload)) as { name?: unknown; message?: unknown; code?: unknown };
    return new RemoteError(
      typeof parsed.name === 'string' ? parsed.name : 'Error',
      typeof parsed.message === 'string' ? parsed.message : 'remote handler failed',
      typeof parsed.code === 'string' ? parsed.code : undefined,
    );
  } catch {
    return new RemoteError('Error', 'remote handler failed with an unreadable error', undefined);
  }
}
