/**
 * `@busway/win32`: the Win32 layer the busway transports share. Typed koffi bindings of named
 * pipes, mailslots, file mappings, events and semaphores, security descriptors and overlapped I/O
 * through one I/O completion port, with errors as {@link Win32Error} and handles owned by
 * {@link Win32Handle}.
 *
 * Importing this module loads nothing native: koffi and kernel32 are loaded by the first Win32
 * call, and on another platform that call throws {@link PlatformError}.
 *
 * @example
 * ```ts
 * import { createNamedPipe, CompletionPort, openHandles } from '@busway/win32';
 *
 * const port = new CompletionPort();
 * const server = createNamedPipe('orders');
 * port.associate(server);
 * await port.connect(server);
 * const { bytes } = await port.read(server, 65_536);
 * server.close();
 * await port.close();
 * ```
 *
 * @module
 */
export { PlatformError, assertWindows } from './platform-error.js';
export { Win32Error } from './win32-error.js';
export { win32ErrorSymbol, win32ErrorCode } from './error-symbols.js';
export { Win32Handle, openHandles, leakedHandles } from './handle.js';
export type { HandleInfo } from './handle.js';
export { isKoffiLoaded } from './koffi-loader.js';
export { wineVersion } from './wine.js';
export { NativeMemory } from './native-memory.js';
export { checkWideName, readWideString, decodeWide } from './wide-string.js';
export { pipePath, mailslotPath, kernelObjectName } from './object-names.js';
export {
  SecurityAttributes,
  checkSddl,
  currentUserSid,
  defaultSddl,
  readDacl,
  withSecurityAttributes,
} from './security-attributes.js';
export type { SecurableObjectType } from './security-attributes.js';
export {
  createNamedPipe,
  disconnectNamedPipe,
  getNamedPipeClientProcessId,
  getNamedPipeServerProcessId,
  namedPipeModes,
  namedPipeOpenFlags,
  openNamedPipe,
  peekNamedPipe,
  setPipeReadMode,
  waitNamedPipe,
} from './named-pipe.js';
export type { NamedPipeOptions, OpenNamedPipeOptions, PipePeek } from './named-pipe.js';
export { createMailslot, getMailslotInfo, openMailslot, setMailslotReadTimeout } from './mailslot.js';
export type { MailslotInfo, MailslotOptions, OpenMailslotOptions } from './mailslot.js';
export { readFile, writeFile } from './file-io.js';
export type { ReadResult } from './file-io.js';
export { MappedView, createFileMapping, mapView, openFileMapping } from './file-mapping.js';
export type { CreatedFileMapping, FileMappingOptions } from './file-mapping.js';
export { createEvent, openEvent, resetEvent, setEvent } from './event.js';
export type { EventOptions } from './event.js';
export { createSemaphore, openSemaphore, releaseSemaphore } from './semaphore.js';
export type { SemaphoreOptions } from './semaphore.js';
export { createMutex, releaseMutex, tryAcquireMutex } from './mutex.js';
export { waitForMultipleObjects, waitForSingleObject, waitForSingleObjectAsync } from './wait.js';
export type { WaitResult } from './wait.js';
export {
  FileAccess,
  FormatMessage,
  INFINITE,
  INVALID_HANDLE_VALUE,
  IoStatus,
  Mailslot,
  MemoryProtection,
  Overlapped,
  PipeMode,
  Security,
  Synchronization,
} from './constants.js';
export { CompletionPort } from './completion-port.js';
export { acquireCompletionPort, releaseCompletionPort } from './shared-completion-port.js';
export type {
  Completion,
  CompletionPortOptions,
  CompletionPortStats,
  OperationOptions,
  OverlappedReadResult,
} from './completion-port.js';
export { HandleWaiter } from './handle-waiter.js';
export { sharedHandleWaiter } from './shared-handle-waiter.js';
export { waitForPipeClient } from './pipe-client-wait.js';
export type { PipeClientWait } from './pipe-client-wait.js';
export { canOpenPipeSockets, openPipeSocket } from './pipe-socket.js';
export type { HandleWaitOptions, HandleWaiterStats } from './handle-waiter.js';
