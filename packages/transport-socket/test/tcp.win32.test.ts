/**
 * The tcp:// conformance suite under the Windows build of Node.js (Winsock through libuv): natively
 * on Windows, under Wine on Linux through `pnpm test:win32`. The sockets code has no Win32-specific
 * branch for TCP, which is exactly what this proves; the socket transports call no Win32 API
 * through koffi, so there are no handles to check for leaks.
 */
import { describeConformance } from '@busway/core/testing';
import { nextPort } from './ports.js';
import { preloadSocketTransport } from './preload-socket.js';

preloadSocketTransport();
describeConformance({ name: 'tcp (Winsock)', newUrl: () => `tcp://127.0.0.1:${nextPort()}`, waitMs: 20_000 });
