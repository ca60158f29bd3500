/**
 * Every failure busway reports is one of these classes. Each has a stable `code` string that
 * callers may switch on (messages may change between versions, codes do not), an explicit `name`
 * that survives minification, and the underlying error, if any, as `cause`.
 *
 * @module
 */

/** Options accepted by every busway error constructor. */
export interface BuswayErrorOptions {
  /** The lower-level error that led to this one. */
  readonly cause?: unknown;
}

/**
 * Base class of every error busway raises.
 *
 * @example
 * ```ts
 * try {
 *   await bus.publish('orders.created', order);
 * } catch (err) {
 *   if (err instanceof BuswayError && err.code === 'BUFFER_FULL') retryLater(order);
 * }
 * ```
 */
export class BuswayError extends Error {
  /** Stable, machine-readable identifier of the failure. */
  readonly code: string;

  constructor(code: string, message: string, options?: BuswayErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BuswayError';
    this.code = code;
  }
}

/** A frame that does not follow the wire format: wrong magic, unknown version, bad lengths. */
export class FrameError extends BuswayError {
  constructor(message: string, options?: BuswayErrorOptions) {
    super('BAD_FRAME', message, options);
    this.name = 'FrameError';
  }
}

/** A frame or message larger than the configured limit; raised before anything is allocated. */
export class FrameTooLargeError extends BuswayError {
  /** The size that was announced or attempted, in bytes. */
  readonly size: number;
  /** The limit in force, in bytes. */
  readonly limit: number;

  constructor(size: number, limit: number, options?: BuswayErrorOptions) {
    super('FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the limit of ${limit} bytes`, options);
    this.name = 'FrameTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

/** A URL or option value that cannot be used. */
export class ConfigurationError extends BuswayError {
  constructor(message: string, options?: BuswayErrorOptions) {
    super('BAD_CONFIGURATION', message, options);
    this.name = 'ConfigurationError';
  }
}

/** No transport is registered for a URL scheme, or its package is not installed. */
export class TransportNotFoundError extends BuswayError {
  /** The URL scheme, without the colon. */
  readonly scheme: string;
  /** The npm package that provides the scheme, when busway knows one. */
  readonly packageName: string | undefined;

  constructor(scheme: string, packageName: string | undefined, options?: BuswayErrorOptions) {
    super(
      'TRANSPORT_NOT_FOUND',
      packageName === undefined
        ? `no transport is registered for "${scheme}://"; call registerTransport('${scheme}', factory) first`
        : `the "${scheme}://" transport needs the package ${packageName}: run \`npm install ${packageName}\``,
      options,
    );
    this.name = 'TransportNotFoundError';
    this.scheme = scheme;
    this.packageName = packageName;
  }
}

/** An operation on a bus or transport that is closed or closing. */
export class ClosedError extends BuswayError {
  constructor(message = 'the bus is closed', options?: BuswayErrorOptions) {
    super('CLOSED', message, options);
    this.name = 'ClosedError';
  }
}

/** The transport lost its link while requests were waiting; each waiting request gets one. */
export class ConnectionLostError extends BuswayError {
  constructor(message = 'the transport lost its connection', options?: BuswayErrorOptions) {
    super('CONNECTION_LOST', message, options);
    this.name = 'ConnectionLostError';
  }
}

/** The member that was answering a request left the bus before finishing. */
export class PeerLostError extends BuswayError {
  /** Member id of the peer that left. */
  readonly member: string;

  constructor(member: string, options?: BuswayErrorOptions) {
    super('PEER_LOST', `member ${member} left the bus before completing the request`, options);
    this.name = 'PeerLostError';
    this.member = member;
  }
}

/** An outgoing buffer is full: the frame was not accepted and nothing was sent. */
export class BufferFullError extends BuswayError {
  /** The bound that was reached, in bytes. */
  readonly limit: number;

  constructor(limit: number, message?: string, options?: BuswayErrorOptions) {
    super('BUFFER_FULL', message ?? `outgoing buffer full (${limit} bytes); the frame was not sent`, options);
    this.name = 'BufferFullError';
    this.limit = limit;
  }
}

/** A request got no reply (or no next reply of a stream) within its timeout. */
export class TimeoutError extends BuswayError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number;

  constructor(topic: string, timeout: number, options?: BuswayErrorOptions) {
    super('TIMEOUT', `request on "${topic}" got no reply within ${timeout} ms`, options);
    this.name = 'TimeoutError';
    this.timeout = timeout;
  }
}

/** A request was made on a topic that no member of the bus handles. */
export class NoRespondersError extends BuswayError {
  constructor(topic: string, options?: BuswayErrorOptions) {
    super('NO_RESPONDERS', `no member handles requests on "${topic}"`, options);
    this.name = 'NoRespondersError';
  }
}

/**
 * The handler of a request failed. The handler's error `name`, `message` and `code` are carried
 * over the wire and exposed here unchanged.
 */
export class RemoteError extends BuswayError {
  /** The `name` of the error the remote handler threw. */
  readonly remoteName: string;

  constructor(remoteName: string, message: string, code: string | undefined) {
    super(code ?? 'REMOTE_ERROR', message);
    this.name = remoteName;
    this.remoteName = remoteName;
  }
}

/** A topic or subscription pattern that is not well formed. */
export class TopicError extends BuswayError {
  constructor(message: string, options?: BuswayErrorOptions) {
    super('BAD_TOPIC', message, options);
    this.name = 'TopicError';
  }
}

/** A payload that the configured codec could not encode or decode. */
export class CodecError extends BuswayError {
  constructor(message: string, options?: BuswayErrorOptions) {
    super('CODEC', message, options);
    this.name = 'CodecError';
  }
}

/**
 * A hub closed one member's link because it went past a per-link limit: too many origins (member
 * ids) or too many interest patterns. The hub raises it from its router; the link is closed and
 * the rest of the bus carries on. A bus raises it too, from `subscribe` and `handle`, for a
 * pattern past the number a hub takes, so that its own link is never closed for it.
 *
 * @example
 * ```ts
 * try {
 *   router.route(frame, link);
 * } catch (err) {
 *   if (err instanceof LinkLimitError) log.warn(`closing a link: ${err.what} over ${err.limit}`);
 *   link.close(err as Error);
 * }
 * ```
 */
export class LinkLimitError extends BuswayError {
  /** Which limit was reached. */
  readonly what: 'origins' | 'patterns';
  /** The limit in force. */
  readonly limit: number;

  constructor(what: 'origins' | 'patterns', limit: number, options?: BuswayErrorOptions) {
    super('LINK_LIMIT', `a link may use at most ${limit} ${what}`, options);
    this.name = 'LinkLimitError';
    this.what = what;
    this.limit = limit;
  }
}

/**
 * A link sent a frame in the name of a member (`origin`) that another link of the hub speaks for.
 * The frame is dropped and the link that sent it is closed.
 *
 * @example
 * ```ts
 * if (err instanceof OriginInUseError) log.warn(`link claimed member ${err.origin}`);
 * ```
 */
export class OriginInUseError extends BuswayError {
  /** The member id the frame claimed. */
  readonly origin: number;

  constructor(origin: number, options?: BuswayErrorOptions) {
    super('ORIGIN_IN_USE', `member ${origin.toString(36)} is attached through another link`, options);
    this.name = 'OriginInUseError';
    this.origin = origin;
  }
}
