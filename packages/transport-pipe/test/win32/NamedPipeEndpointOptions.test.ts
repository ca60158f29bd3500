/** Options of the Windows endpoint that are checked before anything native is touched (runs everywhere). */
import { ConfigurationError } from '@busway/core';
import { describe, expect, it } from 'vitest';
import { NamedPipeEndpoint } from '../../src/win32/NamedPipeEndpoint.js';

describe('NamedPipeEndpoint options', () => {
  it('refuses a pipeIo it does not know, naming the two it does', () => {
    const make = () => new NamedPipeEndpoint('orders', { pipeIo: 'threads' as never });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(/'libuv' or 'completion-port', not "threads"/);
  });

  it('takes either I/O by name', () => {
    expect(new NamedPipeEndpoint('orders', { pipeIo: 'libuv' }).path).toBe('\\\\.\\pipe\\busway\\orders');
    expect(new NamedPipeEndpoint('orders', { pipeIo: 'completion-port' }).path).toBe('\\\\.\\pipe\\busway\\orders');
  });
});
