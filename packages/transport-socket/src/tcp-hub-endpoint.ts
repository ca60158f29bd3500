/**
 * {@link TcpHubEndpoint}: how `HubTransport` listens and connects over TCP or TLS.
 *
 * @module
 */
import { AddressInUseError, type FrameLink, type HubEndpoint, type HubListener } from '@busway/core/internal';
import { FramedTcpClient } from './framed-tcp-client.js';
import { FramedTcpServer } from './framed-tcp-server.js';
import type { FramedTcpClientOptions, FramedTcpServerOptions } from './socket-options.js';

/** Options of a {@link TcpHubEndpoint}: the server's and the client's, host and port excluded. */
export type TcpHubEndpointOptions = Omit<FramedTcpServerOptions & FramedTcpClientOptions, 'host' | 'port'>;

/**
 * The hub endpoint of `tcp://` and `tls://`: listening binds `host:port` (a `FramedTcpServer`),
 * connecting opens a `FramedTcpClient` to it. `EADDRINUSE` means another member is the hub;
 * `EADDRNOTAVAIL` means the host is not this machine's, so this member can only connect. Both are
 * reported as `AddressInUseError`, which makes `HubTransport` connect.
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
      this.server = server;
      return {
        close: async () => {
          await server.close();
          if (this.server === server) this.server = undefined;
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
}
