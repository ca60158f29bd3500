/**
 * The transport registry: URL scheme → factory. Schemes of busway's own transports resolve their
 * package by dynamic import on first use, so an application installs only the transports it uses.
 *
 * @module
 */
import { ConfigurationError, TransportNotFoundError } from './errors.js';
import type { TransportFactory } from './transport.js';

/** The npm package that provides each of busway's own schemes. */
export const KNOWN_TRANSPORT_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  pipe: '@busway/transport-pipe',
  mmf: '@busway/transport-mmf',
  mailslot: '@busway/transport-mailslot',
  tcp: '@busway/transport-socket',
  tls: '@busway/transport-socket',
  udp: '@busway/transport-socket',
});

const factories = new Map<string, TransportFactory>();

/**
 * Register (or replace) the factory for a URL scheme.
 *
 * @example
 * ```ts
 * registerTransport('loop', (url, ctx) => new LoopTransport(url, ctx));
 * const bus = await createBus('loop://x');
 * ```
 */
export function registerTransport(scheme: string, factory: TransportFactory): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) {
    throw new ConfigurationError(`"${scheme}" is not a valid URL scheme (lower case, no colon)`);
  }
  factories.set(scheme, factory);
}

function isModuleNotFound(err: unknown, packageName: string): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
    typeof e.message === 'string' &&
    e.message.includes(packageName)
  );
}

/**
 * The factory for a scheme: a registered one, else the exported `createTransport` of the scheme's
 * package. Throws {@link TransportNotFoundError} naming the package to install.
 *
 * @example
 * ```ts
 * const factory = await resolveTransport('tcp');
 * ```
 */
export async function resolveTransport(
  scheme: string,
  packages: Readonly<Record<string, string>> = KNOWN_TRANSPORT_PACKAGES,
): Promise<TransportFactory> {
  const registered = factories.get(scheme);
  if (registered !== undefined) return registered;
  const packageName = packages[scheme];
  if (packageName === undefined) throw new TransportNotFoundError(scheme, undefined);
  let mod: { createTransport?: unknown };
  try {
    mod = (await import(packageName)) as { createTransport?: unknown };
  } catch (err) {
    if (isModuleNotFound(err, packageName)) throw new TransportNotFoundError(scheme, packageName, { cause: err });
    throw err;
  }
  if (typeof mod.createTransport !== 'function') {
    throw new ConfigurationError(`${packageName} is installed but does not export createTransport`);
  }
  return mod.createTransport as TransportFactory;
}
