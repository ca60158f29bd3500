/**
 * The pipe modes `createNamedPipe` passes to `CreateNamedPipeW`, checked where they are computed:
 * neither Windows nor Wine reports `PIPE_REJECT_REMOTE_CLIENTS` back from a live pipe
 * (`GetNamedPipeInfo` gives only the end and the type), so this is the one place it can be seen.
 * Pure arithmetic: runs on every platform.
 */
import { describe, expect, it } from 'vitest';
import { namedPipeModes, PipeMode } from '../src/index.js';

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
