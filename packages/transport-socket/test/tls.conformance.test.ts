import { describeConformance } from '@busway/core/testing';
import { nextPort } from './ports.js';
import { preloadSocketTransport } from './preload-socket.js';
import { selfSignedCert } from './tls-cert.js';

preloadSocketTransport();
const { key, cert } = selfSignedCert();
describeConformance({
  name: 'tls',
  newUrl: () => `tls://127.0.0.1:${nextPort()}`,
  options: { tls: { key, cert, ca: cert, requestCert: true } },
});
