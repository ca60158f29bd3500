/**
 * `createBus`: the one entry point of applications.
 *
 * @module
 */
import { Bus, resolveBusOptions } from './bus.js';
import type { BusOptions } from './bus-options.js';
import { ConfigurationError } from './errors.js';
import { MemoryTransport } from './memory-transport.js';
import { registerTransport, resolveTransport } from './registry.js';

registerTransport('memory', (url, context) => new MemoryTransport(url, context));

/** A random member id below 2^53, so it survives a round trip through a JavaScript number. */
function newMemberId(): number {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return ((words[0] as number) & 0x1f_ffff) * 0x1_0000_0000 + (words[1] as number) || 1;
}

/**
 * Join a bus. The URL's scheme picks the transport (`pipe://`, `mmf://`, `mailslot://`, `tcp://`,
 * `tls://`, `udp://`, `memory://` or one added with `registerTransport`). With no argument the URL
 * comes from the `BUSWAY_URL` environment variable, so the transport is configuration, not code.
 *
 * Rejects with `TransportNotFoundError` (naming the package to install) for a scheme whose package
 * is missing, `ConfigurationError` for a bad URL, or the transport's own error when it cannot open.
 *
 * @example
 * ```ts
 * const bus = await createBus('memory://demo');
 * const fromEnv = await createBus();                          // BUSWAY_URL=pipe://orders
 * const custom = await createBus({ url: 'tcp://127.0.0.1:7400', requestTimeout: 2000 });
 * ```
 */
export async function createBus(target?: string | BusOptions): Promise<Bus> {
  const options: BusOptions = typeof target === 'string' ? { url: target } : (target ?? {});
  const text = options.url ?? globalThis.process?.env?.BUSWAY_URL;
  if (text === undefined || text === '') {
    throw new ConfigurationError('no bus URL: pass one to createBus() or set BUSWAY_URL, for example memory://demo');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new ConfigurationError(`"${text}" is not a valid bus URL`, { cause });
  }
  const resolved = resolveBusOptions(options);
  const scheme = url.protocol.slice(0, -1);
  const factory = await resolveTransport(scheme);
  const memberId = newMemberId();
  const transport = await factory(url, {
    memberId,
    maxFrameSize: resolved.maxFrameSize,
    options: resolved.transportOptions,
  });
  const bus = new Bus(transport, memberId, resolved);
  await bus.open();
  return bus;
}
