/**
 * {@link UdpEndpoint}: a multicast or broadcast datagram socket with optional per-datagram HMAC,
 * usable on its own (it knows nothing of busway frames) and the mechanism under `udp://`.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { BufferFullError, ConfigurationError, FrameTooLargeError } from '@busway/core';

/** Bytes of HMAC-SHA256 kept in front of each datagram when a secret is set (truncated, as RFC 2104 allows). */
export const UDP_TAG_SIZE = 16;

/** Bytes of the sender's timestamp (u64 big-endian, milliseconds since 1970) after the tag. */
export const UDP_TIMESTAMP_SIZE = 8;

/**
 * Bytes a secret adds to each datagram: the tag, then the timestamp it covers.
 * `tag(16) ‖ timestamp(8) ‖ payload`, tag = HMAC-SHA256(secret, timestamp ‖ payload)[0..16].
 */
export const UDP_AUTH_OVERHEAD = UDP_TAG_SIZE + UDP_TIMESTAMP_SIZE;

/** Options of a {@link UdpEndpoint}. */
export type UdpEndpointOptions = Readonly<
  Partial<{
    /**
     * Address of the local interface to send and receive multicast on. Default: `'127.0.0.1'`
     * (`'::1'` for an IPv6 group): the datagrams stay on this host unless an interface is named.
     */
    interface: string;
    /** Multicast TTL (hops); 1 keeps datagrams on the local network. Default: 1. */
    ttl: number;
    /** Largest datagram sent or accepted, tag included, in bytes. Default: 1200 (fits any path MTU of 1280+). */
    maxDatagramSize: number;
    /**
     * Shared secret: each datagram carries a 16-byte HMAC-SHA256 tag over the sender's timestamp
     * and the payload (24 bytes in all, {@link UDP_AUTH_OVERHEAD}); datagrams without a valid tag
     * are dropped and counted in `unauthenticated`, stale ones in `stale` (see `replayWindow`).
     * Default: none.
     */
    secret: string | Uint8Array;
    /**
     * With a secret: a datagram whose sender timestamp is further than this many milliseconds
     * from the receiver's clock, either way, is dropped and counted in `stale`. A captured
     * datagram can so be replayed only within the window, where core's duplicate suppression
     * drops repeats per sender (a receiver with no state for that sender, one that joined
     * within the window, can still be handed it once). Hosts' clocks must agree within the
     * window. Default: 30 000.
     */
    replayWindow: number;
    /** Kernel receive buffer requested, in bytes (the OS may cap it). Default: 4 MiB. */
    recvBufferSize: number;
    /**
     * Most bytes queued for sending; past it `send` throws `BufferFullError`. Default: 8 MiB
     * (`udp://` raises it to twice the bus's largest message, so one message always fits).
     */
    sendQueueLimit: number;
    /**
     * Datagrams handed to the kernel per event-loop turn. Pacing keeps a burst (a fragmented
     * 10 MiB message is ~9000 datagrams) from overrunning receivers' buffers. Default: 32.
     */
    burst: number;
    /**
     * How long `close()` keeps sending what is still queued (a member's last frames, its Leave
     * among them) before discarding the rest, in milliseconds. Default: 250.
     */
    closeFlushTimeout: number;
  }>
>;

/** Counters of a {@link UdpEndpoint}. */
export interface UdpEndpointStats {
  readonly sent: number;
  readonly received: number;
  /** Datagrams dropped for a missing or wrong HMAC tag. */
  readonly unauthenticated: number;
  /** Authenticated datagrams dropped because their timestamp is outside `replayWindow` (replays, or a skewed clock). */
  readonly stale: number;
  /** Datagrams dropped for being over `maxDatagramSize` (or too short to carry a tag). */
  readonly oversized: number;
  /** Sends the kernel refused (`ENOBUFS`, unreachable network, …); each is a datagram lost. */
  readonly sendErrors: number;
  /** Datagrams still queued when `close()` gave up flushing after `closeFlushTimeout`: never sent. */
  readonly discardedAtClose: number;
}

/** Receives each accepted datagram's payload (tag removed) and its sender. */
export type DatagramHandler = (payload: Uint8Array, from: dgram.RemoteInfo) => void;

/**
 * A datagram socket joined to a multicast group (or sending to a broadcast address) on one port.
 * Every endpoint on the group receives every datagram, its own included (multicast loopback):
 * filter those out above if needed.
 *
 * @example
 * ```ts
 * const endpoint = await UdpEndpoint.open('239.255.0.1', 7400, {}, (payload, from) => {
 *   console.log(from.address, payload.length);
 * });
 * endpoint.send(new TextEncoder().encode('hello'));
 * await endpoint.close();
 * ```
 */
export class UdpEndpoint {
  readonly #socket: dgram.Socket;
  readonly #group: string;
  readonly #port: number;
  readonly #secret: Uint8Array | undefined;
  readonly #replayWindow: number;
  readonly #maxDatagram: number;
  readonly #queueLimit: number;
  readonly #burst: number;
  readonly #closeFlushTimeout: number;
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #drainScheduled = false;
  /** Datagrams handed to the kernel whose send callback has not run yet. */
  #inFlight = 0;
  /** `close()` was called: `send` refuses, the queue is still being flushed. */
  #closed = false;
  /** The socket is closed (or closing): nothing more is handed to it. */
  #socketClosed = false;
  #closing: Promise<void> | undefined;
  /** Set while `close()` waits for the queue to empty; called once it has. */
  #onFlushed: (() => void) | undefined;
  #counters = { sent: 0, received: 0, unauthenticated: 0, stale: 0, oversized: 0, sendErrors: 0, discardedAtClose: 0 };

  private constructor(socket: dgram.Socket, group: string, port: number, options: UdpEndpointOptions) {
    this.#socket = socket;
    this.#group = group;
    this.#port = port;
    this.#secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options.secret;
    this.#replayWindow = options.replayWindow ?? 30_000;
    this.#maxDatagram = options.maxDatagramSize ?? 1200;
    this.#queueLimit = options.sendQueueLimit ?? 8 * 1024 * 1024;
    this.#burst = options.burst ?? 32;
    this.#closeFlushTimeout = options.closeFlushTimeout ?? 250;
    if (this.#maxDatagram <= UDP_AUTH_OVERHEAD || this.#maxDatagram > 65_507) {
      throw new ConfigurationError(`maxDatagramSize must be from ${UDP_AUTH_OVERHEAD + 1} to 65507`);
    }
    if (!(this.#replayWindow > 0))
      throw new ConfigurationError('replayWindow must be a positive number of milliseconds');
  }

  /**
   * Bind `port`, join `group` (or enable broadcast when it is not a multicast address), and start
   * delivering datagrams to `onDatagram`.
   *
   * @example
   * ```ts
   * const endpoint = await UdpEndpoint.open('239.255.0.1', 7400, { secret: 'shh' }, onDatagram);
   * ```
   */
  static async open(
    group: string,
    port: number,
    options: UdpEndpointOptions,
    onDatagram: DatagramHandler,
  ): Promise<UdpEndpoint> {
    const family = net.isIP(group);
    if (family === 0) throw new ConfigurationError(`udp:// needs an IP group or broadcast address, got "${group}"`);
    const multicast = family === 4 ? isMulticast4(group) : group.toLowerCase().startsWith('ff');
    const iface = options.interface ?? (family === 4 ? '127.0.0.1' : '::1');
    // Binding the group (or broadcast) address receives only that traffic, nothing unicast to
    // this port from elsewhere (Linux, and Wine, which has Linux's semantics). Windows refuses
    // to bind a group address; there the interface is bound, still only where the user pointed.
    let socket: dgram.Socket;
    try {
      socket = await bindDatagramSocket(family, port, group);
    } catch (err) {
      if (process.platform !== 'win32') throw err;
      socket = await bindDatagramSocket(family, port, iface);
    }
    const endpoint = new UdpEndpoint(socket, group, port, options);
    try {
      if (multicast) {
        socket.addMembership(group, iface);
        socket.setMulticastInterface(iface);
        socket.setMulticastTTL(options.ttl ?? 1);
        socket.setMulticastLoopback(true);
      } else {
        socket.setBroadcast(true);
      }
      try {
        socket.setRecvBufferSize(options.recvBufferSize ?? 4 * 1024 * 1024);
      } catch {
        // The OS refused the size (a hard cap): the default buffer still works, only with more loss.
      }
    } catch (err) {
      socket.close();
      throw err;
    }
    socket.on('error', () => (endpoint.#counters.sendErrors += 1));
    socket.on('message', (msg, rinfo) => endpoint.#receive(msg, rinfo, onDatagram));
    return endpoint;
  }

  /** Largest payload `send` accepts: `maxDatagramSize` less the tag and timestamp when a secret is set. */
  get maxPayloadSize(): number {
    return this.#maxDatagram - (this.#secret === undefined ? 0 : UDP_AUTH_OVERHEAD);
  }

  /** Bytes queued for sending. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * Queue one datagram for the group. Throws `FrameTooLargeError` over `maxPayloadSize` and
   * `BufferFullError` once `sendQueueLimit` bytes are waiting; never drops silently (a send the
   * kernel refuses is counted in `sendErrors`).
   */
  send(payload: Uint8Array): void {
    if (this.#closed) throw new ConfigurationError('the UDP endpoint is closed');
    if (payload.length > this.maxPayloadSize) throw new FrameTooLargeError(payload.length, this.maxPayloadSize);
    if (this.#queuedBytes + payload.length > this.#queueLimit) throw new BufferFullError(this.#queueLimit);
    const datagram = this.#secret === undefined ? payload : sealed(this.#secret, payload, Date.now());
    this.#queue.push(datagram);
    this.#queuedBytes += payload.length;
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      setImmediate(this.#drain);
    }
  }

  /** Counters since opening. */
  stats(): UdpEndpointStats {
    return { ...this.#counters };
  }

  /**
   * Stop accepting sends, give what is still queued up to `closeFlushTimeout` to reach the kernel
   * (a bus sends its Leave just before closing, and the others rely on it to fail requests to
   * this member at once), then leave the group and close the socket. Datagrams still queued
   * after that are discarded and counted in `discardedAtClose`. Idempotent.
   *
   * @example
   * ```ts
   * endpoint.send(lastWords);
   * await endpoint.close(); // lastWords is sent first
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    if (!this.#flushed()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#closeFlushTimeout);
        this.#onFlushed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#onFlushed = undefined;
    }
    this.#counters.discardedAtClose += this.#queue.length - this.#queueHead;
    this.#socketClosed = true;
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  /** Nothing queued and every datagram handed to the kernel has had its send callback. */
  #flushed(): boolean {
    return this.#queueHead >= this.#queue.length && this.#inFlight === 0;
  }

  readonly #drain = (): void => {
    this.#drainScheduled = false;
    if (this.#socketClosed) return;
    const end = Math.min(this.#queue.length, this.#queueHead + this.#burst);
    for (; this.#queueHead < end; this.#queueHead += 1) {
      const datagram = this.#queue[this.#queueHead] as Uint8Array;
      const size = datagram.length - (this.#secret === undefined ? 0 : UDP_AUTH_OVERHEAD);
      this.#inFlight += 1;
      this.#socket.send(datagram, this.#port, this.#group, (err) => {
        this.#inFlight -= 1;
        if (!this.#socketClosed) this.#queuedBytes -= size;
        if (err) this.#counters.sendErrors += 1;
        else this.#counters.sent += 1;
        if (this.#onFlushed !== undefined && this.#flushed()) this.#onFlushed();
      });
    }
    if (this.#queueHead < this.#queue.length) {
      this.#drainScheduled = true;
      setImmediate(this.#drain);
    } else {
      this.#queue = [];
      this.#queueHead = 0;
    }
  };

  #receive(msg: Buffer, rinfo: dgram.RemoteInfo, onDatagram: DatagramHandler): void {
    if (msg.length > this.#maxDatagram) {
      this.#counters.oversized += 1;
      return;
    }
    let payload: Uint8Array = msg;
    if (this.#secret !== undefined) {
      if (msg.length <= UDP_AUTH_OVERHEAD) {
        this.#counters.unauthenticated += 1;
        return;
      }
      const covered = msg.subarray(UDP_TAG_SIZE);
      if (!timingSafeEqual(msg.subarray(0, UDP_TAG_SIZE), tag(this.#secret, covered))) {
        this.#counters.unauthenticated += 1;
        return;
      }
      // Checked only once the tag is good: the timestamp is the sender's only if the MAC says so.
      const sentAt = msg.readUInt32BE(UDP_TAG_SIZE) * 0x1_0000_0000 + msg.readUInt32BE(UDP_TAG_SIZE + 4);
      if (Math.abs(Date.now() - sentAt) > this.#replayWindow) {
        this.#counters.stale += 1;
        return;
      }
      payload = msg.subarray(UDP_AUTH_OVERHEAD);
    }
    this.#counters.received += 1;
    onDatagram(payload, rinfo);
  }
}

function bindDatagramSocket(family: number, port: number, address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: true });
  return new Promise((resolve, reject) => {
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ port, address, exclusive: false }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

function isMulticast4(address: string): boolean {
  const first = Number(address.split('.')[0]);
  return first >= 224 && first <= 239;
}

function tag(secret: Uint8Array, covered: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(covered).digest().subarray(0, UDP_TAG_SIZE);
}

/** `tag ‖ timestamp ‖ payload`, the tag covering the timestamp and the payload. */
function sealed(secret: Uint8Array, payload: Uint8Array, now: number): Buffer {
  const out = Buffer.allocUnsafe(UDP_AUTH_OVERHEAD + payload.length);
  out.writeUInt32BE(Math.floor(now / 0x1_0000_0000), UDP_TAG_SIZE);
  out.writeUInt32BE(now >>> 0, UDP_TAG_SIZE + 4);
  out.set(payload, UDP_AUTH_OVERHEAD);
  out.set(tag(secret, out.subarray(UDP_TAG_SIZE)), 0);
  return out;
}
