/**
 * {@link TcpHubEndpoint}: how `HubTransport` listens and connects over TCP or TLS.
 *
 * @module
 */
import { AddressInUseError, type FrameLink, type HubEndpoint, type HubListener } from '@busway/core/internal';
import { FramedTcpClient } from './framed-tcp-client.js';
import { FramedTcpServer, type FramedTcpServerStats } from './framed-tcp-server.js';
import type { FramedTcpClientOptions, FramedTcpServerOptions } from './socket-options.js';

/** Options of a {@link TcpHubEndpoint}: the server's and the client's, host and port excluded. */
export type TcpHubEndpointOptions = Omit<FramedTcpServerOptions & FramedTcpClientOptions, 'host' | 'port'>;

/**
 * The hub endpoint of `tcp://` and `tls://`: listening binds `host:port` (a `FramedTcpServer`),
 * connecting opens a `FramedTcpClient` to it. `EADDRINUSE` means another member is the hub;
 * `EADDRNOTAVAIL` means the host is not this machine's, so this member can only connect. Both are
 * reported as `AddressInUseError`, which makes `HubTransport` connect.
 *
 * While this member is the hub, what its server refuses is counted in {@link TcpHubEndpoint.stats},
 * which `HubTransport` adds to its own: `bus.stats()` shows them as `transport.authFailures` and so on.
 *
 * @example
 * ```ts
 * const endpoint = new TcpHubEndpoint('127.0.0.1', 7400, { secret: 'shh' });
 * const transport = new HubTransport(endpoint, { maxFrameSize: 1 << 24 });
 * await transport.open();
 * ```
 */
export class TcpHubEndpoint implements HubEndpoint {
  readonly description: string;
  /** The server while this member is the hub (for stats and tests). */
  server: FramedTcpServer | undefined;
  /** Counters of the servers this member ran as hub before the current one. */
  #past = { accepted: 0, rejectedAtCap: 0, handshakeFailures: 0, authFailures: 0 };

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: TcpHubEndpointOptions = {},
  ) {
    this.description = `${options.tls === undefined ? 'tcp' : 'tls'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  async listen(onLink: (link: FrameLink) => void): Promise<HubListener> {
    try {
      const server = await FramedTcpServer.listen({ ...this.options, host: this.host, port: this.port }, onLink);
      if (this.server !== undefined) this.#addPast(this.server.stats()); // a listener never closed
      this.server = server;
      return {
        close: async () => {
          await server.close();
          if (this.server === server) {
            this.#addPast(server.stats());
            this.server = undefined;
          }
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL')
        throw new AddressInUseError(this.description, { cause: err });
      throw err;
    }
  }

  connect(): Promise<FrameLink> {
    return FramedTcpClient.connect({ ...this.options, host: this.host, port: this.port });
  }

  /**
   * What the hub's server accepted and refused, over every term of this member as hub:
   * `accepted`, `rejectedAtCap`, `handshakeFailures` (wrong protocol, too slow, TLS failure) and
   * `authFailures` (wrong shared secret). All 0 for a member that never was the hub.
   *
   * @example
   * ```ts
   * const bus = await createBus({ url: 'tcp://127.0.0.1:7400', transportOptions: { secret: 'shh' } });
   * bus.stats()['transport.authFailures']; // this endpoint's authFailures, through HubTransport
   * ```
   */
  stats(): Readonly<Record<'accepted' | 'rejectedAtCap' | 'handshakeFailures' | 'authFailures', number>> {
    const p = this.#past;
    const now = this.server?.stats();
    return {
      accepted: p.accepted + (now?.accepted ?? 0),
      rejectedAtCap: p.rejectedAtCap + (now?.rejectedAtCap ?? 0),
      handshakeFailures: p.handshakeFailures + (now?.handshakeFailures ?? 0),
      authFailures: p.authFailures + (now?.authFailures ?? 0),
    };
  }

  #addPast(s: FramedTcpServerStats): void {
    this.#past.accepted += s.accepted;
    this.#past.rejectedAtCap += s.rejectedAtCap;
    this.#past.handshakeFailures += s.handshakeFailures;
    this.#past.authFailures += s.authFailures;
  }
}
