/**
 * What applications receive and what they pass to the bus.
 *
 * @module
 */
import type { Observable } from 'rxjs';
import type { Headers } from './envelope.js';
import type { PeerIdentity } from './transport.js';

/**
 * Who sent a message: its member id always, and the OS identity of its process (`pid`, `uid`,
 * `address`) where the transport learnt it first-hand. On hub transports (`tcp://`, `pipe://`) a
 * member that is not the hub learns that only for the hub's own messages: for a message the hub
 * relayed from another member those fields are absent, never the hub's.
 *
 * @example
 * ```ts
 * bus.subscribe('orders.>').subscribe((m) => console.log(m.sender.member, m.sender.pid ?? 'pid unknown'));
 * ```
 */
export interface Sender extends PeerIdentity {
  /** The sending bus's member id (base 36), the same in every frame it sends. */
  readonly member: string;
}

/** A message delivered to a subscriber, or a request delivered to a handler. */
export interface Message<T = unknown> {
  /** The concrete topic it was published on. */
  readonly topic: string;
  /**
   * The payload, decoded with the sender's codec. Binary values (`Uint8Array`) are copies the
   * application owns, but a small one (65 B to 1 KiB) is a view into a shared 16 KiB buffer, as
   * Node's pooled `Buffer`s are: use `byteOffset` and `length` with its `.buffer`, never the whole
   * ArrayBuffer (which holds other messages' bytes).
   */
  readonly data: T;
  /** Headers the sender attached (empty object when none). */
  readonly headers: Headers;
  /** Who sent it, as the bus and the operating system saw it. */
  readonly sender: Sender;
}

/**
 * Answers requests on a pattern. Return a value or a Promise for one reply, or an Observable to
 * stream several: the requester's Observable completes when yours does, errors with your error
 * (name, message and `code` are carried over), and unsubscribing on either side stops the other.
 */
export type RequestHandler<Req = unknown, Res = unknown> = (
  request: Message<Req>,
) => Res | PromiseLike<Res> | Observable<Res>;

/** Options of one publish. */
export interface PublishOptions {
  /** Headers to carry beside the payload, for example a W3C `traceparent`. */
  readonly headers?: Headers;
}

/** Options of one request. */
export interface RequestOptions {
  /**
   * Milliseconds to wait for the first reply, and then for each next reply of a stream, before
   * failing with `TimeoutError`. Default: the bus's `requestTimeout` (10 000).
   */
  readonly timeout?: number;
  /** Headers to carry beside the request payload. */
  readonly headers?: Headers;
}

/** Counters of a bus, from `bus.stats()`. */
export interface BusStats {
  /** Messages and requests this member sent (not counting fragments separately). */
  readonly published: number;
  /** Messages delivered to at least one local subscriber. */
  readonly delivered: number;
  /** Frames dropped because they had already been received. */
  readonly duplicates: number;
  /**
   * Frames that never arrived: sequence numbers that slid out of the dedup window unseen. Counted
   * on broadcast transports (`capabilities.broadcast === 'native'`: mmf, udp, mailslot), where every
   * member sees every frame a sender sends. On hub transports a member receives only what it showed
   * interest in, so holes in a sender's sequence are expected and this stays 0.
   *
   * A lower bound that lags: a lost frame is counted only once frames from the same sender have
   * arrived `dedupWindow` (1024) sequence numbers past it. Frames lost among a sender's last
   * `dedupWindow` frames (the end of a burst, or after the last frame that did arrive) are not
   * counted until that sender sends more, and never if it leaves first (its Leave makes this
   * member forget it), is forgotten past `maxSenders`, or this member closes.
   */
  readonly gaps: number;
  /** Frames that could not be decoded and were dropped. */
  readonly badFrames: number;
  /** Fragmented messages dropped because their fragments did not all arrive in time. */
  readonly fragmentsExpired: number;
  /** Fragmented messages dropped because reassembly memory was full. */
  readonly reassemblyDropped: number;
  /** Requests currently waiting for replies. */
  readonly pendingRequests: number;
  /** Counters reported by the transport, prefixed with `transport.`. */
  readonly [transportCounter: `transport.${string}`]: number;
}
