import { fileURLToPath } from 'node:url';

/**
 * Make child processes (the conformance suite's, our fixtures') able to resolve tcp/tls/udp:
 * they run core's built JavaScript, which cannot see this package by name, so a registration is
 * preloaded through NODE_OPTIONS, which children inherit. Needs `tsc -b` to have built dist/.
 */
export function preloadSocketTransport(): void {
  const register = fileURLToPath(new URL('./fixtures/register-socket.mjs', import.meta.url));
  if (!(process.env['NODE_OPTIONS'] ?? '').includes(register)) {
    process.env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --import=${register}`.trim();
  }
}
