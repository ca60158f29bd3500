/**
 * Options of the framed TCP/TLS server, client and hub endpoint.
 *
 * @module
 */

/** TLS material and policy, as Node's `tls` takes them; used when the URL scheme is `tls://`. */
export type TlsSocketOptions = Readonly<
  Partial<{
    /** Private key (PEM). Needed by every member that may become the hub. Default: none. */
    key: string | Buffer;
    /** Certificate chain (PEM) matching `key`; also offered as the client certificate. Default: none. */
    cert: string | Buffer;
    /** Trusted CA certificates (PEM) for checking the peer. Default: Node's root store. */
    ca: string | Buffer | ReadonlyArray<string | Buffer>;
    /** PKCS#12 bundle instead of `key`/`cert`. Default: none. */
    pfx: string | Buffer;
    /** Passphrase of `key` or `pfx`. Default: none. */
    passphrase: string;
    /** The hub asks members for a client certificate. Default: false. */
    requestCert: boolean;
    /** Refuse peers whose certificate does not verify against `ca`. Default: true. */
    rejectUnauthorized: boolean;
    /** Server name to check the hub certificate against (and SNI). Default: the URL host. */
    servername: string;
    /** Lowest TLS version accepted. Default: `'TLSv1.2'`. */
    minVersion: 'TLSv1.2' | 'TLSv1.3';
  }>
>;

/** Limits and authentication of one framed socket connection. */
export type FramedSocketOptions = Readonly<
  Partial<{
    /** Largest frame accepted, in bytes, checked on the length prefix before allocating. Default: 16 MiB. */
    maxFrameSize: number;
    /** A connection must complete the busway handshake within this many milliseconds. Default: 5000. */
    handshakeTimeout: number;
    /**
     * A frame, once its first byte arrived, must be complete within this many milliseconds, or the
     * connection is closed with `StalledFrameError` (slowloris defence). Default: 30 000.
     */
    frameTimeout: number;
    /**
     * Most bytes queued for sending on one connection; past it `send` throws `BufferFullError`
     * (and a hub drops that member as a slow consumer). Default: 8 MiB.
     */
    writeBufferLimit: number;
    /**
     * Shared secret. When set, both ends prove knowledge of it at connect (HMAC-SHA256
     * challenge/response, both directions) and a peer that cannot is disconnected. Default: none.
     */
    secret: string | Uint8Array;
    /** TLS material; turns the connection into TLS. Default: none (plain TCP). */
    tls: TlsSocketOptions;
  }>
>;

/** Options of a {@link FramedTcpServer}. */
export type FramedTcpServerOptions = FramedSocketOptions &
  Readonly<
    Partial<{
      /** Address to bind. Default: `'127.0.0.1'` (loopback: remote access is an explicit choice). */
      host: string;
      /** Port to bind; 0 picks a free one. Default: 0. */
      port: number;
      /** Most simultaneous connections, handshaking ones included; more are closed at accept. Default: 1024. */
      maxConnections: number;
    }>
  >;

/** Options of {@link FramedTcpClient.connect}. */
export type FramedTcpClientOptions = FramedSocketOptions &
  Readonly<
    Partial<{
      /** Host to connect to. Default: `'127.0.0.1'`. */
      host: string;
      /** Port to connect to. Required. */
      port: number;
      /** Give up connecting (TCP + TLS + handshake) after this many milliseconds. Default: 5000. */
      connectTimeout: number;
    }>
  >;
