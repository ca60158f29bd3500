import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Make child processes (the conformance suite's, our fixtures') able to resolve tcp/tls/udp:
 * they run core's built JavaScript, which cannot see this package by name, so a registration is
 * preloaded through NODE_OPTIONS, which children inherit. Needs `tsc -b` to have built dist/.
 */
export function preloadSocketTransport(): void {
  // Passed as a file: URL made from the OS path: on Windows `--import=Z:\…` would be read as a URL
  // whose scheme is `z:`.
  const register = pathToFileURL(fileURLToPath(new URL('./fixtures/register-socket.mjs', import.meta.url))).href;
  if (!(process.env['NODE_OPTIONS'] ?? '').includes(register)) {
    process.env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --import=${register}`.trim();
  }
}
