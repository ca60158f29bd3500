import { describeConformance } from '@busway/core/testing';
import { nextPort } from './ports.js';
import { preloadSocketTransport } from './preload-socket.js';

preloadSocketTransport();
describeConformance({ name: 'tcp', newUrl: () => `tcp://127.0.0.1:${nextPort()}` });
