/**
 * The udp:// conformance suite under the Windows build of Node.js (Winsock multicast on the
 * loopback interface), natively or under Wine through `pnpm test:win32`.
 */
import { describeConformance } from '@busway/core/testing';
import { nextPort } from './ports.js';
import { preloadSocketTransport } from './preload-socket.js';

preloadSocketTransport();
let group = 0;
describeConformance({
  name: 'udp (Winsock)',
  newUrl: () => `udp://239.255.21.${(group++ % 250) + 1}:${nextPort()}`,
  options: { secret: 'conformance' },
  waitMs: 20_000,
});
