import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as win32 from '../src/index.js';
import { kernel32 } from '../src/internal.js';

/** Native libraries mapped into this process, from Node's diagnostic report. */
function sharedObjects(): string[] {
  const report = process.report.getReport() as unknown as { sharedObjects?: string[] };
  return report.sharedObjects ?? [];
}

describe('loading', () => {
  it('importing @busway/win32 loads neither koffi nor kernel32', () => {
    // The import at the top of this file has run; so have the pure helpers below.
    expect(win32.pipePath('orders')).toBe('\\\\.\\pipe\\orders');
    expect(win32.isKoffiLoaded()).toBe(false);
    expect(sharedObjects().some((path) => /koffi/i.test(path))).toBe(false);
  });
});

describe('pure helpers (every platform)', () => {
  it('names Win32 objects and refuses names that would be truncated', () => {
    expect(win32.mailslotPath('orders')).toBe('\\\\.\\mailslot\\orders');
    expect(win32.pipePath('\\\\.\\pipe\\x')).toBe('\\\\.\\pipe\\x');
    expect(win32.kernelObjectName('ring')).toBe('Local\\ring');
    expect(win32.kernelObjectName('Global\\ring')).toBe('Global\\ring');
    expect(() => win32.pipePath('a\0b')).toThrow(expect.objectContaining({ code: 'BAD_CONFIGURATION' }) as Error);
    expect(() => win32.pipePath('x'.repeat(300))).toThrow(/longer than 256/);
    expect(() => win32.checkWideName('')).toThrow(/empty/);
  });

  it('builds the default SDDL for the user and SYSTEM only, and refuses a NULL DACL', () => {
    expect(win32.defaultSddl('S-1-5-21-1-2-3-1001')).toBe('D:P(A;;GA;;;SY)(A;;GA;;;S-1-5-21-1-2-3-1001)');
    expect(() => win32.defaultSddl('Everyone')).toThrow(/not a string SID/);
    expect(win32.checkSddl('O:BAD:P(A;;GA;;;SY)')).toBe('O:BAD:P(A;;GA;;;SY)');
    expect(() => win32.checkSddl('D:NO_ACCESS_CONTROL')).toThrow(/NULL DACL/);
    expect(() => win32.checkSddl('O:BA')).toThrow(/no DACL/);
  });

  it('Win32Error carries the errno, its symbol and a stable code', () => {
    const error = new win32.Win32Error('CreateFileW', 231, '\\\\.\\pipe\\x');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('Win32Error');
    expect(error.code).toBe('WIN32');
    expect(error.errno).toBe(231);
    expect(error.symbol).toBe('ERROR_PIPE_BUSY');
    expect(error.message).toContain('CreateFileW (\\\\.\\pipe\\x) failed: ERROR_PIPE_BUSY (231)');
    expect(win32.win32ErrorSymbol(99999)).toBe('WIN32_ERROR_99999');
    expect(win32.win32ErrorCode('ERROR_FILE_NOT_FOUND')).toBe(2);
  });
});

describe.runIf(process.platform !== 'win32')('off Windows', () => {
  it('every Win32-only call throws PlatformError, and none of them loads koffi', () => {
    const calls: Array<[string, () => unknown]> = [
      ['createNamedPipe', () => win32.createNamedPipe('x')],
      ['openNamedPipe', () => win32.openNamedPipe('x')],
      ['waitNamedPipe', () => win32.waitNamedPipe('x', 0)],
      ['createMailslot', () => win32.createMailslot('x')],
      ['openMailslot', () => win32.openMailslot('x')],
      ['createFileMapping', () => win32.createFileMapping('x', 4096)],
      ['openFileMapping', () => win32.openFileMapping('x')],
      ['createEvent', () => win32.createEvent()],
      ['openEvent', () => win32.openEvent('x')],
      ['createSemaphore', () => win32.createSemaphore()],
      ['openSemaphore', () => win32.openSemaphore('x')],
      ['currentUserSid', () => win32.currentUserSid()],
      ['readDacl', () => win32.readDacl(4)],
      ['SecurityAttributes', () => win32.SecurityAttributes.fromSddl()],
      ['CompletionPort', () => new win32.CompletionPort()],
      ['HandleWaiter', () => new win32.HandleWaiter()],
      ['sharedHandleWaiter', () => win32.sharedHandleWaiter()],
      ['waitForPipeClient', () => win32.waitForPipeClient({} as never, {} as never)],
      ['openPipeSocket', () => win32.openPipeSocket({} as never)],
      ['kernel32', () => kernel32()],
      ['wineVersion', () => win32.wineVersion()],
    ];
    for (const [what, call] of calls) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(caught, what).toBeInstanceOf(win32.PlatformError);
      expect((caught as win32.PlatformError).code).toBe('PLATFORM');
      expect((caught as Error).message).toContain('only available on Windows');
    }
    // Asking whether libuv can take pipes over is answered without loading anything either.
    expect(win32.canOpenPipeSockets()).toBe(false);
    expect(win32.isKoffiLoaded()).toBe(false);
    expect(sharedObjects().some((path) => /koffi/i.test(path))).toBe(false);
  });

  it('the koffi check above can fail: loading koffi does show in the process', () => {
    // Control for the two "not loaded" assertions: they look at the real list of mapped native
    // libraries, which does name koffi once it is loaded.
    createRequire(import.meta.url)('koffi');
    expect(sharedObjects().some((path) => /koffi/i.test(path))).toBe(true);
  });
});
