import { describe, expect, it } from 'vitest';
import { ConfigurationError, MemoryTransport, registerTransport, TransportNotFoundError } from '../src/index.js';
import { resolveTransport } from '../src/registry.js';

describe('transport registry', () => {
  it('names the package to install when a known scheme’s package is missing', async () => {
    const err = await resolveTransport('carrier', { carrier: '@busway/transport-carrier-pigeon' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransportNotFoundError);
    expect(err).toMatchObject({ code: 'TRANSPORT_NOT_FOUND', packageName: '@busway/transport-carrier-pigeon' });
    expect((err as Error).message).toContain('npm install @busway/transport-carrier-pigeon');
  });

  it('maps every built-in scheme to its package', async () => {
    const { KNOWN_TRANSPORT_PACKAGES } = await import('../src/registry.js');
    expect(KNOWN_TRANSPORT_PACKAGES).toEqual({
      pipe: '@busway/transport-pipe',
      mmf: '@busway/transport-mmf',
      mailslot: '@busway/transport-mailslot',
      tcp: '@busway/transport-socket',
      tls: '@busway/transport-socket',
      udp: '@busway/transport-socket',
    });
  });

  it('uses a registered factory before any package', async () => {
    const factory = (url: URL, ctx: ConstructorParameters<typeof MemoryTransport>[1]) => new MemoryTransport(url, ctx);
    registerTransport('custom-test', factory);
    expect(await resolveTransport('custom-test')).toBe(factory);
  });

  it('rejects a malformed scheme', () => {
    expect(() =>
      registerTransport('Bad:', () => {
        throw new Error('unused');
      }),
    ).toThrow(ConfigurationError);
  });
});
