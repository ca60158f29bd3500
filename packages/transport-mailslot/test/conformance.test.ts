import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { registerTransport } from '@busway/core';
import { describeConformance } from '@busway/core/testing';
import { createTransport } from '../src/index.js';

registerTransport('mailslot', createTransport);
// The suite's child process runs core's dist, which cannot resolve this package by name: preload
// a registration (inherited through the environment).
const register = fileURLToPath(new URL('./fixtures/register-mailslot.mjs', import.meta.url));
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${register}`.trim();

// A private base per run, so that runs never see each other's slots; the child gets it through
// the transport options the suite passes on.
const directory = mkdtempSync(join(tmpdir(), 'bw-ms-conf-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let n = 0;
describeConformance({
  name: 'mailslot',
  newUrl: () => `mailslot://conf-${process.pid}-${++n}`,
  options: { directory },
});
