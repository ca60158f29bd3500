/**
 * The tls:// conformance suite under the Windows build of Node.js (Winsock and Node's bundled
 * OpenSSL), natively or under Wine through `pnpm test:win32`. node.exe under Wine cannot run
 * Linux's openssl, so the certificate is the committed throw-away one from
 * fixtures/make-test-cert.sh.
 */
import { readFileSync } from 'node:fs';
import { describeConformance } from '@busway/core/testing';
import { nextPort } from './ports.js';
import { preloadSocketTransport } from './preload-socket.js';

preloadSocketTransport();
const key = readFileSync(new URL('./fixtures/test-key.pem', import.meta.url), 'utf8');
const cert = readFileSync(new URL('./fixtures/test-cert.pem', import.meta.url), 'utf8');
describeConformance({
  name: 'tls (Winsock)',
  newUrl: () => `tls://127.0.0.1:${nextPort()}`,
  options: { tls: { key, cert, ca: cert, requestCert: true } },
  waitMs: 20_000,
});
