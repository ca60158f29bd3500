import { describeConformance } from '@busway/core/testing';
import { nextPort } from './ports.js';
import { preloadSocketTransport } from './preload-socket.js';

preloadSocketTransport();
let group = 0;
// A fresh group and port per test, so one test's datagrams never reach another's members.
describeConformance({
  name: 'udp',
  newUrl: () => `udp://239.255.20.${(group++ % 250) + 1}:${nextPort()}`,
  options: { secret: 'conformance' },
});
