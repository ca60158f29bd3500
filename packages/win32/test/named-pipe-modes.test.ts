/**
 * The pipe modes `createNamedPipe` passes to `CreateNamedPipeW`, and the flags `openNamedPipe`
 * passes to `CreateFileW`, checked where they are computed: neither Windows nor Wine reports
 * `PIPE_REJECT_REMOTE_CLIENTS` back from a live pipe (`GetNamedPipeInfo` gives only the end and the
 * type), nor the impersonation level a client handle was opened with, so this is the one place
 * they can be seen. Pure arithmetic: runs on every platform.
 */
import { describe, expect, it } from 'vitest';
import { FileAccess, namedPipeModes, namedPipeOpenFlags, PipeMode } from '../src/index.js';

describe('namedPipeModes', () => {
  it('by default: duplex, overlapped, first instance, message mode, remote clients rejected', () => {
    const { openMode, pipeMode } = namedPipeModes();
    expect(openMode).toBe(
      PipeMode.PIPE_ACCESS_DUPLEX | PipeMode.FILE_FLAG_OVERLAPPED | PipeMode.FILE_FLAG_FIRST_PIPE_INSTANCE,
    );
    expect(pipeMode).toBe(
      PipeMode.PIPE_TYPE_MESSAGE | PipeMode.PIPE_READMODE_MESSAGE | PipeMode.PIPE_REJECT_REMOTE_CLIENTS,
    );
  });

  it('rejectRemoteClients: false clears PIPE_REJECT_REMOTE_CLIENTS and nothing else', () => {
    const rejecting = namedPipeModes({ messageMode: false, firstInstance: false });
    const accepting = namedPipeModes({ messageMode: false, firstInstance: false, rejectRemoteClients: false });
    expect(rejecting.pipeMode & PipeMode.PIPE_REJECT_REMOTE_CLIENTS).toBe(PipeMode.PIPE_REJECT_REMOTE_CLIENTS);
    expect(accepting.pipeMode & PipeMode.PIPE_REJECT_REMOTE_CLIENTS).toBe(0);
    expect(accepting.pipeMode).toBe(rejecting.pipeMode & ~PipeMode.PIPE_REJECT_REMOTE_CLIENTS);
    expect(accepting.openMode).toBe(rejecting.openMode);
    expect(accepting.openMode & PipeMode.FILE_FLAG_FIRST_PIPE_INSTANCE).toBe(0);
  });

  it('rejectRemoteClients: true is the same as leaving it out', () => {
    expect(namedPipeModes({ rejectRemoteClients: true })).toEqual(namedPipeModes({}));
  });
});

describe('namedPipeOpenFlags', () => {
  const IDENTIFY_ONLY = FileAccess.SECURITY_SQOS_PRESENT | FileAccess.SECURITY_IDENTIFICATION;

  it('by default: read and write, overlapped, and the server may identify but not impersonate', () => {
    expect(namedPipeOpenFlags()).toEqual({
      desiredAccess: FileAccess.GENERIC_READ | FileAccess.GENERIC_WRITE,
      flagsAndAttributes: IDENTIFY_ONLY | FileAccess.FILE_FLAG_OVERLAPPED,
    });
  });

  it.each([
    { overlapped: true },
    { overlapped: false },
    { messageMode: false },
    { messageMode: true, overlapped: false },
  ])('SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION whatever the options: %o', (options) => {
    const { flagsAndAttributes } = namedPipeOpenFlags(options);
    expect(flagsAndAttributes & IDENTIFY_ONLY).toBe(IDENTIFY_ONLY);
    // Nothing else in the impersonation-level bits (0x30000): not delegation or impersonation.
    expect(flagsAndAttributes & 0x0003_0000).toBe(FileAccess.SECURITY_IDENTIFICATION);
  });

  it('overlapped: false clears FILE_FLAG_OVERLAPPED and nothing else', () => {
    const overlapped = namedPipeOpenFlags({ overlapped: true }).flagsAndAttributes;
    expect(namedPipeOpenFlags({ overlapped: false }).flagsAndAttributes).toBe(
      overlapped & ~FileAccess.FILE_FLAG_OVERLAPPED,
    );
  });
});
