/**
 * The mailslot:// conformance suite over Win32 mailslots through koffi (@busway/win32): natively
 * on Windows, under Wine on Linux (where reads are polled: Wine cannot put a mailslot on a
 * completion port).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import { registerTransport } from '@busway/core';
import { describeConformance } from '@busway/core/testing';
import { createTransport } from '../src/index.js';

registerTransport('mailslot', createTransport);
// The suite's child process runs core's dist, which cannot resolve this package by name: preload
// a registration. As a file: URL, because node.exe would read "Z:\…" as a URL scheme.
const register = pathToFileURL(fileURLToPath(new URL('./fixtures/register-mailslot.mjs', import.meta.url))).href;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${register}`.trim();

const run = randomBytes(3).toString('hex');
let n = 0;
describeConformance({ name: 'mailslot (Win32)', newUrl: () => `mailslot://conf-${run}-${++n}`, waitMs: 20_000 });
