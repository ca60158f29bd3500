/**
 * The pipe:// conformance suite over Win32 named pipes through koffi (@busway/win32): natively on
 * Windows, under Wine on Linux.
 */
import { randomBytes } from 'node:crypto';
import { describeConformance } from '@busway/core/testing';
import { preloadPipeTransport } from './preloadPipeTransport.js';

preloadPipeTransport();
const run = randomBytes(3).toString('hex');
let n = 0;
describeConformance({
  name: 'pipe (Win32 named pipe)',
  newUrl: () => `pipe://conformance-${run}-${++n}`,
  waitMs: 20_000,
});
