/**
 * Waiting for a client on a server pipe instance without a completion port.
 *
 * @module
 */
import { IoStatus, Overlapped } from './constants.js';
import { createEvent } from './event.js';
import type { Win32Handle } from './handle.js';
import type { HandleWaiter } from './handle-waiter.js';
import { kernel32 } from './kernel32.js';
import { NativeMemory } from './native-memory.js';
import { assertWindows } from './platform-error.js';
import { waitForSingleObject } from './wait.js';
import { Win32Error } from './win32-error.js';

const { ERROR_IO_PENDING, ERROR_PIPE_CONNECTED, ERROR_NOT_FOUND } = IoStatus;
/** How long a cancelled connect may take to let go of its OVERLAPPED before it is abandoned. */
const CANCEL_GRACE_MS = 1000;

/** A client wait begun by {@link waitForPipeClient}. */
export interface PipeClientWait {
  /** Resolves once a client is connected; rejects with `Win32Error` (995 after `cancel`). */
  readonly connected: Promise<void>;
  /** Stop waiting (`CancelIoEx`); `connected` then rejects. Idempotent, harmless once settled. */
  cancel(): void;
}

/**
 * An overlapped `ConnectNamedPipe` signalled through an event rather than a completion port, for
 * instances handed to libuv once connected (`openPipeSocket`): a handle joins one completion port
 * for life, and it must be libuv's. The event is waited on by `waiter`, whose one worker thread
 * serves any number of such waits. Resolves at once when the client connected already.
 *
 * @example
 * ```ts
 * const wait = waitForPipeClient(instance, waiter);
 * await wait.connected;             // a client is on the other end
 * const socket = openPipeSocket(instance);
 * ```
 */
export function waitForPipeClient(pipe: Win32Handle, waiter: HandleWaiter): PipeClientWait {
  assertWindows('waitForPipeClient');
  const k32 = kernel32();
  const event = createEvent({ manualReset: true });
  const overlapped = new NativeMemory(Overlapped.SIZE);
  new DataView(overlapped.bytes.buffer, overlapped.bytes.byteOffset, Overlapped.SIZE).setBigInt64(
    Overlapped.EVENT_OFFSET,
    BigInt(event.value),
    true,
  );
  let pending = false;
  const release = (): void => {
    overlapped.free();
    event.close();
  };
  const connected = (async (): Promise<void> => {
    if (k32.ConnectNamedPipe(pipe.value, overlapped.address) !== 0) return release();
    const errno = k32.GetLastError();
    if (errno === ERROR_PIPE_CONNECTED) return release();
    if (errno !== ERROR_IO_PENDING) {
      release();
      throw new Win32Error('ConnectNamedPipe', errno, pipe.name);
    }
    pending = true;
    try {
      await waiter.wait(event);
    } catch (err) {
      // The waiter was closed under us: the connect is still in flight and owns the OVERLAPPED.
      k32.CancelIoEx(pipe.value, overlapped.address);
      if (waitForSingleObject(event, CANCEL_GRACE_MS) === 'signaled') release();
      // Otherwise the kernel may still write into it: leaking 32 bytes beats corrupting the heap.
      throw err;
    } finally {
      pending = false;
    }
    const transferred: [number] = [0];
    const ok = k32.GetOverlappedResult(pipe.value, overlapped.address, transferred, 0);
    const failure = ok === 0 ? k32.GetLastError() : 0;
    release();
    if (ok === 0) throw new Win32Error('ConnectNamedPipe', failure, pipe.name);
  })();
  return {
    connected,
    cancel: () => {
      if (!pending || pipe.closed) return;
      if (k32.CancelIoEx(pipe.value, overlapped.address) === 0) {
        const errno = k32.GetLastError();
        if (errno !== ERROR_NOT_FOUND) throw new Win32Error('CancelIoEx', errno, pipe.name);
      }
    },
  };
}
