/**
 * The busway connection handshake, run on every framed TCP/TLS connection before any frame:
 *
 * ```
 * hub    → member  "BWH1" flags(1) serverNonce(16)            21 bytes  flags bit 0: secret required
 * member → hub     "BWC1" clientNonce(16) clientProof(32)     52 bytes
 * hub    → member  "BWS1" serverProof(32)                     36 bytes
 *   or, when clientProof is wrong:
 * hub    → member  "BWF1" zero(32)                            36 bytes, then the hub closes
 * clientProof = HMAC-SHA256(secret, "busway client" ‖ serverNonce ‖ clientNonce)
 * serverProof = HMAC-SHA256(secret, "busway server" ‖ clientNonce ‖ serverNonce)
 * ```
 *
 * Without a secret the proofs are 32 zero bytes and only prove that the peer speaks busway, which
 * is still worth it: a stray client (an HTTP probe, a port scanner) is told apart in one read and
 * dropped before it can send anything the hub would parse as frames. With a secret both sides
 * prove knowledge of it (mutual: a member will not talk to a fake hub either) and nonces from both
 * sides make every proof single-use. Every message has a fixed size, so reading one allocates
 * nothing a peer controls.
 *
 * "BWF1" tells a member that its proof was refused, so it can report `AuthenticationError` rather
 * than a bare disconnect. It carries nothing but that fact (no reason, no hint about the secret),
 * and it is as long as "BWS1" so the member reads either with the same fixed-size read. The same
 * layout is in `docs/wire-format.md`.
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { SocketReadBuffer } from '@busway/core/internal';
import { AuthenticationError, HandshakeError } from './socket-errors.js';

const HELLO = Buffer.from('BWH1');
const CLIENT = Buffer.from('BWC1');
const SERVER = Buffer.from('BWS1');
const REFUSED = Buffer.from('BWF1');
const NONCE = 16;
const PROOF = 32;
const ZERO_PROOF = Buffer.alloc(PROOF);
/** The hub's fixed answer to a wrong proof; as long as the "BWS1" reply it replaces. */
const REFUSAL = Buffer.concat([REFUSED, ZERO_PROOF]);
/** Longest the hub waits for its refusal to be flushed before the caller destroys the socket. */
const REFUSAL_FLUSH_MS = 1000;

/** Sizes of the three handshake messages, in order. */
export const HANDSHAKE_SIZES = { hello: 4 + 1 + NONCE, client: 4 + NONCE + PROOF, server: 4 + PROOF } as const;

function proof(secret: Uint8Array | undefined, label: string, first: Uint8Array, second: Uint8Array): Buffer {
  if (secret === undefined) return ZERO_PROOF;
  return createHmac('sha256', secret).update(label).update(first).update(second).digest();
}

/**
 * Read exactly `size` bytes from a paused stream, returning them and whatever arrived after them.
 * Rejects on close, error or `timeout`. With `reads` (the stream was created with its `onread`),
 * the bytes come from there instead of `'data'`; they are copied, as the buffer is reused.
 */
function readExactly(
  stream: Duplex,
  size: number,
  timeout: number,
  reads: SocketReadBuffer | undefined,
): Promise<{ head: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const cleanup = (): void => {
      clearTimeout(timer);
      if (reads === undefined) stream.off('data', onData);
      else reads.consume(undefined);
      stream.off('close', onClose);
      stream.off('error', onError);
      stream.pause();
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      have += chunk.length;
      if (have < size) return;
      cleanup();
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, have);
      resolve({ head: all.subarray(0, size), rest: all.subarray(size) });
    };
    // A copy of each read: the reused buffer is overwritten by the next one, and `rest` is kept
    // (as the link's leftover) until the link starts. The handshake is a few dozen bytes, once.
    const onRead = (bytes: Uint8Array): void => onData(Buffer.from(bytes));
    const onClose = (): void => {
      cleanup();
      reject(new HandshakeError('the peer closed the connection during the handshake'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new HandshakeError(`connection failed during the handshake: ${err.message}`, { cause: err }));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new HandshakeError(`handshake not completed within ${timeout} ms`));
    }, timeout);
    if (reads === undefined) stream.on('data', onData);
    else reads.consume(onRead);
    stream.once('close', onClose);
    stream.once('error', onError);
    stream.resume();
  });
}

/** Write `bytes` and end the stream; resolves once flushed, or after `timeout` regardless. */
function endWith(stream: Duplex, bytes: Uint8Array, timeout: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeout);
    stream.end(bytes, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function toKey(secret: string | Uint8Array | undefined): Uint8Array | undefined {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
}

/**
 * Run the hub side of the handshake on a fresh connection. Resolves with the bytes that followed
 * the handshake (the start of the frame stream); rejects with {@link HandshakeError} or
 * {@link AuthenticationError}, after which the caller destroys the socket. A wrong proof is
 * answered with the fixed refusal first, so the member learns it was refused.
 *
 * @example
 * ```ts
 * const rest = await serverHandshake(socket, { secret: 's3cret', timeout: 5000 });
 * ```
 */
export async function serverHandshake(
  stream: Duplex,
  options: { readonly secret?: string | Uint8Array | undefined; readonly timeout: number },
): Promise<Buffer> {
  const secret = toKey(options.secret);
  const serverNonce = randomBytes(NONCE);
  stream.write(Buffer.concat([HELLO, Buffer.from([secret === undefined ? 0 : 1]), serverNonce]));
  const { head, rest } = await readExactly(stream, HANDSHAKE_SIZES.client, options.timeout, undefined);
  if (!head.subarray(0, 4).equals(CLIENT)) throw new HandshakeError('the peer does not speak the busway protocol');
  const clientNonce = head.subarray(4, 4 + NONCE);
  const expected = proof(secret, 'busway client', serverNonce, clientNonce);
  if (!timingSafeEqual(head.subarray(4 + NONCE), expected)) {
    await endWith(stream, REFUSAL, Math.min(REFUSAL_FLUSH_MS, options.timeout));
    throw new AuthenticationError('the peer failed to prove knowledge of the shared secret');
  }
  stream.write(Buffer.concat([SERVER, proof(secret, 'busway server', clientNonce, serverNonce)]));
  return rest;
}

/**
 * Run the member side of the handshake on a fresh connection. Resolves with the bytes that
 * followed it; rejects with {@link HandshakeError} or {@link AuthenticationError} (a hub that
 * requires a secret this side lacks, or one that cannot prove the secret this side has). Pass
 * `reads` when the stream was created with that buffer's `onread` (it emits no `'data'` then).
 *
 * @example
 * ```ts
 * const rest = await clientHandshake(socket, { secret: 's3cret', timeout: 5000 });
 * ```
 */
export async function clientHandshake(
  stream: Duplex,
  options: {
    readonly secret?: string | Uint8Array | undefined;
    readonly timeout: number;
    readonly reads?: SocketReadBuffer | undefined;
  },
): Promise<Buffer> {
  const secret = toKey(options.secret);
  const started = Date.now();
  const hello = await readExactly(stream, HANDSHAKE_SIZES.hello, options.timeout, options.reads);
  if (!hello.head.subarray(0, 4).equals(HELLO) || hello.rest.length > 0) {
    throw new HandshakeError('the hub does not speak the busway protocol');
  }
  const required = ((hello.head[4] as number) & 1) === 1;
  if (required && secret === undefined)
    throw new AuthenticationError('the hub requires a shared secret and none is configured');
  if (!required && secret !== undefined) {
    throw new AuthenticationError(
      'a shared secret is configured but the hub does not require one: refusing an unauthenticated hub',
    );
  }
  const serverNonce = hello.head.subarray(5);
  const clientNonce = randomBytes(NONCE);
  stream.write(Buffer.concat([CLIENT, clientNonce, proof(secret, 'busway client', serverNonce, clientNonce)]));
  const remaining = Math.max(1, options.timeout - (Date.now() - started));
  const reply = await readExactly(stream, HANDSHAKE_SIZES.server, remaining, options.reads);
  if (reply.head.equals(REFUSAL)) {
    throw new AuthenticationError('the hub refused this member: its shared secret does not match the hub secret');
  }
  if (!reply.head.subarray(0, 4).equals(SERVER)) throw new HandshakeError('the hub sent a malformed handshake reply');
  if (!timingSafeEqual(reply.head.subarray(4), proof(secret, 'busway server', clientNonce, serverNonce))) {
    throw new AuthenticationError('the hub failed to prove knowledge of the shared secret');
  }
  return reply.rest;
}
