/**
 * The endpoint abstraction a {@link HubTransport} runs over: how to become the hub (listen), how
 * to reach the hub (connect), and the {@link FrameLink} both produce. A hub-based transport
 * (TCP, TLS, named pipes, Unix sockets) implements only these three small interfaces; election,
 * routing, reconnection and buffering live once, in `HubTransport`.
 *
 * @module
 */
import type { FrameWriter, PeerIdentity } from '../transport.js';

/** Where a {@link FrameLink} reports what arrives on it. */
export interface FrameLinkSink {
  /**
   * One whole frame (an envelope, no length prefix). The bytes may be a view into a buffer the
   * link owns: valid during this call only, unless the link documents otherwise.
   */
  onFrame(frame: Uint8Array): void;
  /**
   * The link closed, for whatever reason; called exactly once. `error` is set when it closed
   * because of a failure (a bad frame, a reset, a timeout), undefined for an orderly close.
   */
  onClose(error?: Error): void;
}

/**
 * A connection that moves whole frames: a framed socket, a named pipe in byte mode, … It is
 * handed out already past any handshake (authenticated, if the endpoint authenticates).
 *
 * @example
 * ```ts
 * const link = await endpoint.connect();
 * link.start({ onFrame: (f) => console.log(f.length), onClose: (err) => console.log('gone', err) });
 * link.send(frame);
 * ```
 */
export interface FrameLink {
  /** Who is at the other end, as far as the mechanism can tell. */
  readonly peer: PeerIdentity | undefined;
  /**
   * Start delivering inbound frames to `sink`. A link buffers nothing before `start` beyond what
   * the OS holds (it reads nothing), so no frame is lost between hand-out and `start`.
   */
  start(sink: FrameLinkSink): void;
  /**
   * Queue one frame for sending. Throws `BufferFullError` when the link's outgoing queue is
   * already over its bound (a slow peer), and `ClosedError` once the link is closed; never
   * blocks, never drops silently.
   */
  send(frame: Uint8Array): void;
  /**
   * Optional: queue one frame of `length` bytes that `writer` writes, called once before this
   * returns, into the link's own outgoing memory where it can (no frame allocated, no copy). The
   * same errors as `send`, thrown before `writer` is called.
   */
  sendInPlace?(length: number, writer: FrameWriter): void;
  /** Close the link; `onClose` follows. Idempotent. */
  close(error?: Error): void;
  /**
   * Bytes accepted by `send` and not yet taken by the OS, when the link can tell. Reported in
   * the transport's stats so a fast publisher can pace itself before `BufferFullError`.
   */
  readonly queuedBytes?: number;
  /**
   * True when every frame handed to `onFrame` has passed `checkEnvelopeHeader` (a link that reads
   * through a `FrameDecoder` does): a hub's router then does not check it again. Default: false.
   */
  readonly checksFrames?: boolean;
}

/** What {@link HubEndpoint.listen} returns: the hub's accepting side. */
export interface HubListener {
  /** Stop accepting and close every link accepted so far. Idempotent. */
  close(): Promise<void>;
}

/**
 * How a hub transport reaches its domain. `listen` is tried first by every member; the one that
 * succeeds is the hub.
 *
 * @example
 * ```ts
 * const endpoint: HubEndpoint = {
 *   listen: (onLink) => FramedTcpServer.listen({ port: 7400 }, onLink),
 *   connect: () => FramedTcpClient.connect({ port: 7400 }),
 * };
 * const transport = new HubTransport(endpoint, { memberId: 1, maxFrameSize: 1 << 20 });
 * ```
 */
export interface HubEndpoint {
  /**
   * Become the hub: start accepting links and hand each to `onLink`. Rejects with
   * `AddressInUseError` when another member is the hub (or the address cannot be served
   * from this host, so this member can only connect); any other rejection is a real failure.
   */
  listen(onLink: (link: FrameLink) => void): Promise<HubListener>;
  /** Connect to the hub. Rejects when nobody listens (the hub is gone) or the handshake fails. */
  connect(): Promise<FrameLink>;
  /** A human-readable name of the address, for messages. */
  readonly description: string;
  /**
   * The endpoint's own counters (connections refused at the cap, failed handshakes or
   * authentication, …). `HubTransport.stats()` adds them to its own, so they reach `bus.stats()`
   * as `transport.<name>`; names must not clash with `HubTransport`'s. Optional.
   */
  stats?(): Readonly<Record<string, number>>;
}
