import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Make child processes (the conformance suite's) able to resolve pipe://: they run core's built
 * JavaScript, which cannot see this package by name, so a registration is preloaded through
 * NODE_OPTIONS, which children inherit. Needs `tsc -b` to have built dist/. (The same approach as
 * transport-socket's tests.)
 */
export function preloadPipeTransport(): void {
  // A file: URL made from the OS path: on Windows `--import=Z:\…` would be read as a URL whose
  // scheme is `z:`.
  const register = pathToFileURL(fileURLToPath(new URL('./fixtures/register-pipe.mjs', import.meta.url))).href;
  if (!(process.env['NODE_OPTIONS'] ?? '').includes(register)) {
    process.env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --import=${register}`.trim();
  }
}
