/**
 * {@link FramedTcpServer}: the accepting side of framed TCP/TLS, usable on its own.
 *
 * @module
 */
import net from 'node:net';
import tls from 'node:tls';
import { StreamFrameLink } from '@busway/core/internal';
import { linkLimits, nodeTlsOptions, DEFAULT_HOST, SOCKET_DEFAULTS } from './socket-defaults.js';
import { serverHandshake } from './socket-handshake.js';
import type { FramedTcpServerOptions } from './socket-options.js';
import { AuthenticationError } from './socket-errors.js';

/** Counters of a {@link FramedTcpServer}. */
export interface FramedTcpServerStats {
  /** Connections that completed the handshake. */
  readonly accepted: number;
  /** Connections closed at accept because `maxConnections` were open. */
  readonly rejectedAtCap: number;
  /** Connections that failed the handshake: wrong protocol, too slow, TLS failure. */
  readonly handshakeFailures: number;
  /** Connections that failed shared-secret authentication (dropped, nothing delivered). */
  readonly authFailures: number;
  /** Connections open now, handshaking ones included. */
  readonly open: number;
}

/**
 * A TCP (or TLS) server that hands out one {@link StreamFrameLink} per connection that completes
 * the busway handshake. Every limit applies per connection, so a bad client is closed without
 * affecting the others: more than `maxConnections` are refused at accept, a client that does not
 * finish the handshake within `handshakeTimeout` is dropped, and links enforce `maxFrameSize` and
 * `frameTimeout` (closing with core's `StalledFrameError`).
 *
 * @example
 * ```ts
 * const server = await FramedTcpServer.listen({ port: 7400 }, (link) => {
 *   link.start({ onFrame: (frame) => link.send(frame), onClose: () => undefined }); // echo
 * });
 * console.log(server.port);
 * await server.close();
 * ```
 */
export class FramedTcpServer {
  readonly #server: net.Server;
  /** Every connection open, by its TCP socket (under TLS: the one beneath), from accept to close. */
  readonly #sockets = new Set<net.Socket>();
  /** TLS only: TCP sockets whose TLS handshake is not through, by peer address and port. */
  readonly #preTls = new Map<string, net.Socket>();
  readonly #handshaking = new Set<net.Socket>();
  readonly #links = new Set<StreamFrameLink>();
  #counters = { accepted: 0, rejectedAtCap: 0, handshakeFailures: 0, authFailures: 0 };
  #closing: Promise<void> | undefined;

  private constructor(options: FramedTcpServerOptions, onLink: (link: StreamFrameLink) => void) {
    const handshakeTimeout = options.handshakeTimeout ?? SOCKET_DEFAULTS.handshakeTimeout;
    const limits = linkLimits(options);
    const server =
      options.tls === undefined
        ? net.createServer({ pauseOnConnect: true })
        : tls.createServer({ ...nodeTlsOptions(options.tls), handshakeTimeout });
    server.maxConnections = options.maxConnections ?? SOCKET_DEFAULTS.maxConnections;
    server.on('drop', () => (this.#counters.rejectedAtCap += 1));
    server.on('tlsClientError', (_err: Error, socket: net.Socket) => {
      this.#counters.handshakeFailures += 1;
      socket.destroy();
    });
    // Connections are tracked from accept, under TLS too: a peer that never starts (or finishes)
    // TLS is open, counts toward the cap, and must not hold up close() until handshakeTimeout.
    server.on('connection', (raw: net.Socket) => {
      if (this.#closing !== undefined) {
        raw.destroy();
        return;
      }
      this.#sockets.add(raw);
      raw.on('error', () => undefined); // reported through close; an unhandled 'error' would crash the hub
      raw.once('close', () => this.#sockets.delete(raw));
      if (options.tls === undefined) {
        onSocket(raw);
        return;
      }
      // Node's TLS server wraps `raw` in a TLSSocket of its own and hands that out at
      // secureConnection; the peer's address and port (unique among the live connections of one
      // listening socket) pair the two.
      const key = peerKey(raw);
      this.#preTls.set(key, raw);
      raw.once('close', () => {
        if (this.#preTls.get(key) === raw) this.#preTls.delete(key);
      });
    });
    const onSocket = (socket: net.Socket): void => {
      if (this.#closing !== undefined) {
        socket.destroy();
        return;
      }
      socket.on('error', () => undefined); // reported through close; an unhandled 'error' would crash the hub
      this.#handshaking.add(socket);
      serverHandshake(socket, { secret: options.secret, timeout: handshakeTimeout }).then(
        (rest) => {
          this.#handshaking.delete(socket);
          if (socket.destroyed) return;
          const link = new StreamFrameLink(socket, { ...limits, leftover: rest });
          this.#links.add(link);
          socket.once('close', () => this.#links.delete(link));
          this.#counters.accepted += 1;
          onLink(link);
        },
        (err: unknown) => {
          this.#handshaking.delete(socket);
          if (err instanceof AuthenticationError) this.#counters.authFailures += 1;
          else this.#counters.handshakeFailures += 1;
          socket.destroy();
        },
      );
    };
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.#preTls.delete(peerKey(socket));
      onSocket(socket);
    });
    this.#server = server;
  }

  /**
   * Bind and start accepting. Rejects with Node's error (`EADDRINUSE`, `EACCES`, …) when it cannot.
   *
   * @example
   * ```ts
   * const server = await FramedTcpServer.listen({ host: '127.0.0.1', port: 0, secret: 'shh' }, onLink);
   * ```
   */
  static listen(options: FramedTcpServerOptions, onLink: (link: StreamFrameLink) => void): Promise<FramedTcpServer> {
    const instance = new FramedTcpServer(options, onLink);
    const server = instance.#server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // exclusive: never share the port with a cluster primary; the OS must say who is the hub.
      server.listen({ host: options.host ?? DEFAULT_HOST, port: options.port ?? 0, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        resolve(instance);
      });
    });
  }

  /** The port bound (useful with port 0). */
  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** The address bound. */
  get host(): string {
    return (this.#server.address() as net.AddressInfo).address;
  }

  /** Counters since listening. */
  stats(): FramedTcpServerStats {
    // Field by field: `{ ...counters, open }` takes a slow path in V8 (microseconds a call).
    const c = this.#counters;
    return {
      accepted: c.accepted,
      rejectedAtCap: c.rejectedAtCap,
      handshakeFailures: c.handshakeFailures,
      authFailures: c.authFailures,
      open: this.#sockets.size,
    };
  }

  /**
   * Stop accepting and close every connection. Idempotent.
   *
   * @example
   * ```ts
   * await server.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const link of this.#links) link.close();
      for (const socket of this.#handshaking) socket.destroy();
      for (const raw of this.#preTls.values()) raw.destroy();
    });
    return this.#closing;
  }
}

function peerKey(socket: net.Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
