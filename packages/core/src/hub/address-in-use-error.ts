import { BuswayError, type BuswayErrorOptions } from '../errors.js';

/**
 * A hub endpoint could not listen because another member already is the hub there (or the
 * address is not one this host can serve). {@link HubTransport} answers it by connecting instead,
 * so it is an expected outcome of the hub election rather than a failure the user sees.
 *
 * @example
 * ```ts
 * server.once('error', (err) => {
 *   if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') reject(new AddressInUseError('tcp://127.0.0.1:7400', { cause: err }));
 * });
 * ```
 */
export class AddressInUseError extends BuswayError {
  /** The address that is taken, as the endpoint describes it. */
  readonly address: string;

  constructor(address: string, options?: BuswayErrorOptions) {
    super('ADDRESS_IN_USE', `${address} is in use: another member is the hub`, options);
    this.name = 'AddressInUseError';
    this.address = address;
  }
}
