import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConformance } from '@busway/core/testing';
import { describe } from 'vitest';
import { preloadPipeTransport } from './preloadPipeTransport.js';

preloadPipeTransport();
// A fresh private socket directory for this run (created 0700 by prepareSecureSocketDirectory), so
// runs never meet each other's buses; the cross-process child gets it through the options.
const directory = join(mkdtempSync(join(tmpdir(), 'bw-conf-')), 'run');
let n = 0;
// On Windows the same URLs are named pipes: conformance.win32.test.ts runs that suite.
describe.runIf(process.platform !== 'win32')('pipe:// over Unix sockets', () => {
  describeConformance({
    name: 'pipe (Unix socket)',
    newUrl: () => `pipe://conformance-${process.pid}-${++n}`,
    options: { directory },
  });
});
