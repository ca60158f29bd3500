/**
 * The contract between the bus and a transport. A transport is one member's link into one
 * broadcast domain: it moves whole frames (encoded envelopes) and knows nothing of topics,
 * requests or codecs. Routers that forward by interest (hubs) use {@link InterestRouter} from
 * `@busway/core/internal`, which reads only the envelope header.
 *
 * @module
 */
import type { Observable } from 'rxjs';

/** Life cycle of a bus or a transport. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What a transport guarantees; the bus adapts to it. */
export interface TransportCapabilities {
  /** Frames sent while open are not lost (the bus then skips gap accounting noise). */
  readonly reliable: boolean;
  /** Frames from one sender arrive in the order sent. */
  readonly ordered: boolean;
  /** Largest frame the transport carries whole, in bytes; larger messages are fragmented. */
  readonly maxFrameSize: number;
  /** `native`: the mechanism reaches every member itself; `hub`: a member relays. */
  readonly broadcast: 'native' | 'hub';
  /**
   * The transport's router answers a request nobody handles with a `NoResponders` frame, so the
   * bus can fail fast instead of waiting for the timeout.
   */
  readonly knowsResponders: boolean;
}

/**
 * The identity of the process that sent a frame, as the operating system reported it. Only what
 * the OS reported first-hand: on a hub transport a member that is not the hub knows the OS
 * identity of its link, the hub, so it has one only for the hub's own frames; frames the hub
 * relayed from other members carry none (`peer` undefined, and only `member` in `Sender`).
 *
 * @example
 * ```ts
 * const peer: PeerIdentity = { pid: 4242, uid: 1000 };
 * ```
 */
export interface PeerIdentity {
  /** Process id (Win32 `GetNamedPipeClientProcessId`, `SO_PEERCRED` on Linux). */
  readonly pid?: number;
  /** User id on POSIX. */
  readonly uid?: number;
  /** Network address and port, for socket transports. */
  readonly address?: string;
}

/**
 * One frame as received. `bytes` is only valid during the synchronous delivery: a transport may
 * hand out a view into a buffer it reuses (shared memory does), so the bus copies what it keeps.
 */
export interface InboundFrame {
  readonly bytes: Uint8Array;
  /**
   * Who sent it, when the mechanism can tell first-hand (for a hub, the member that handed it in);
   * undefined for a frame only relayed to this member by a hub.
   */
  readonly peer?: PeerIdentity | undefined;
  /**
   * The frame's topic, from a transport that has already checked the frame's fixed header
   * (`checkEnvelopeHeader`) and decoded its topic, as a hub's router does with every frame it
   * routes: the bus then does neither again. Must be left out otherwise.
   */
  readonly topic?: string | undefined;
}

/**
 * Writes one encoded frame into memory a transport provides; see {@link Transport.sendInPlace}.
 *
 * @example
 * ```ts
 * const writer: FrameWriter = { writeFrame: (target, offset) => target.set(frame, offset) };
 * transport.sendInPlace?.(frame.length, writer);
 * ```
 */
export interface FrameWriter {
  /** Write exactly the announced number of bytes at `target[offset…]`. Called once, synchronously. */
  writeFrame(target: Uint8Array, offset: number): void;
}

/**
 * A member's link into a broadcast domain. Frames sent by one member reach every other member
 * (not the sender itself); hubs may skip members that have shown no interest.
 */
export interface Transport {
  /** What this transport guarantees. Stable once `open()` resolved. */
  readonly capabilities: TransportCapabilities;
  /** Current state; replays the latest value to new subscribers. */
  readonly state$: Observable<ConnectionState>;
  /** Hot stream of frames from other members. Errors only for unrecoverable failures. */
  readonly frames$: Observable<InboundFrame>;
  /** Join the domain. Resolves once frames can be sent. */
  open(): Promise<void>;
  /**
   * Hand one frame to the transport. Returns (or resolves) once the transport has accepted it:
   * queued for the kernel, written to the ring. Throws (or rejects) with `BufferFullError` when it
   * cannot take the frame, `FrameTooLargeError` when the frame exceeds `maxFrameSize`, and
   * `ClosedError` after close. The transport may keep `frame`; the caller must not reuse it.
   */
  send(frame: Uint8Array): void | Promise<void>;
  /**
   * Optional: send one whole (unfragmented) frame of `length` bytes by letting `writer` write it
   * straight into the transport's own memory (a slot of the mmf ring), so that it is encoded once,
   * where it is read, and no frame is allocated. `writer` is called once, before this returns;
   * a transport that cannot write in place at the moment (the frame must wait) has it write into
   * bytes of its own. Otherwise the same contract as {@link send}. The bus uses it, when present,
   * for frames it does not also deliver locally.
   */
  sendInPlace?(length: number, writer: FrameWriter): void | Promise<void>;
  /** Leave the domain and release every OS resource. Idempotent. */
  close(): Promise<void>;
  /** Counters for `bus.stats()`, for example `{ framesDropped: 3 }`. */
  stats?(): Readonly<Record<string, number>>;
}

/** What a transport factory receives besides the URL. */
export interface TransportContext {
  /** The member id of the bus that owns the transport (the `origin` of its frames). */
  readonly memberId: number;
  /** Largest frame the bus will accept or send, in bytes. */
  readonly maxFrameSize: number;
  /** Transport-specific options passed through `createBus({ transportOptions })`. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * Builds a transport for a URL. Registered per scheme with `registerTransport`, or exported as
 * `createTransport` by a transport package.
 */
export type TransportFactory = (url: URL, context: TransportContext) => Transport | Promise<Transport>;
