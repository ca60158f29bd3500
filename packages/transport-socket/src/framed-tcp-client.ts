/**
 * {@link FramedTcpClient}: the connecting side of framed TCP/TLS, usable on its own.
 *
 * @module
 */
import net from 'node:net';
import tls from 'node:tls';
import { ConfigurationError } from '@busway/core';
import { SocketReadBuffer, StreamFrameLink } from '@busway/core/internal';
import { DEFAULT_HOST, linkLimits, nodeTlsOptions, SOCKET_DEFAULTS } from './socket-defaults.js';
import { clientHandshake } from './socket-handshake.js';
import type { FramedTcpClientOptions } from './socket-options.js';

/**
 * Connects to a {@link FramedTcpServer} (or a busway hub) and returns the framed link once the
 * TCP connection, TLS (if configured) and the busway handshake are through. The link reads into
 * one reused buffer, so a frame handed to `onFrame` is valid during that call only: copy what you keep.
 *
 * @example
 * ```ts
 * const link = await FramedTcpClient.connect({ host: '127.0.0.1', port: 7400, secret: 'shh' });
 * link.start({ onFrame: (frame) => console.log(frame.length), onClose: () => undefined });
 * link.send(frame);
 * ```
 */
export const FramedTcpClient = {
  /**
   * Connect, handshake, and resolve with the link. Rejects with Node's error (`ECONNREFUSED`, a
   * TLS verification failure), `HandshakeError`, or `AuthenticationError`.
   *
   * @example
   * ```ts
   * const link = await FramedTcpClient.connect({ port: 7400 });
   * ```
   */
  async connect(options: FramedTcpClientOptions): Promise<StreamFrameLink> {
    if (options.port === undefined) throw new ConfigurationError('FramedTcpClient.connect needs a port');
    const host = options.host ?? DEFAULT_HOST;
    const timeout = options.connectTimeout ?? SOCKET_DEFAULTS.connectTimeout;
    const started = Date.now();
    // One reused read buffer for the handshake and then the link (see StreamFrameLink's `reads`):
    // no Buffer and no stream machinery per read. TLS takes it too, for the decrypted bytes.
    const reads = new SocketReadBuffer();
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s =
        options.tls === undefined
          ? net.connect({ host, port: options.port as number, onread: reads.onread })
          : tls.connect(tlsConnectOptions(host, options.port as number, options.tls, reads));
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          Object.assign(new Error(`connecting to ${host}:${options.port} timed out after ${timeout} ms`), {
            code: 'ETIMEDOUT',
          }),
        );
      }, timeout);
      s.once('error', (err) => {
        clearTimeout(timer);
        s.destroy();
        reject(err);
      });
      s.once(options.tls === undefined ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        s.on('error', () => undefined); // the link reports failures through onClose
        s.pause();
        resolve(s);
      });
    });
    try {
      const rest = await clientHandshake(socket, {
        secret: options.secret,
        timeout: Math.max(1, (options.handshakeTimeout ?? timeout) - (Date.now() - started)),
        reads,
      });
      return new StreamFrameLink(socket, { ...linkLimits(options), leftover: rest, reads });
    } catch (err) {
      socket.destroy();
      throw err;
    }
  },
};

/**
 * `tls.connect`'s options, with the read buffer. Node documents `onread` for `tls.connect` (used
 * when it creates the socket itself, as here; ignored with a `socket` option) but `@types/node`
 * does not declare it there, hence the wider type.
 */
function tlsConnectOptions(
  host: string,
  port: number,
  options: NonNullable<FramedTcpClientOptions['tls']>,
  reads: SocketReadBuffer,
): tls.ConnectionOptions {
  const connectOptions: tls.ConnectionOptions & Pick<net.TcpSocketConnectOpts, 'onread'> = {
    host,
    port,
    servername: net.isIP(host) === 0 ? host : undefined,
    ...nodeTlsOptions(options),
    onread: reads.onread,
  };
  return connectOptions;
}
