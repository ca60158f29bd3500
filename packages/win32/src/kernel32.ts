/**
 * Typed koffi bindings of the kernel32 functions busway uses, loaded on first use and only on
 * Windows. Handles are plain numbers (`intptr_t`): they are small, compare with `===`, and can be
 * map keys. Memory that the kernel writes to after a call returns (OVERLAPPED structures, I/O
 * buffers) is passed as a numeric address of memory from `koffi.alloc`, never as a JS buffer,
 * because koffi only guarantees a JS buffer's address for the duration of the call.
 *
 * @module
 */
import { FormatMessage } from './constants.js';
import { loadKoffi } from './koffi-loader.js';
import { assertWindows } from './platform-error.js';
import { setSystemMessageFormatter } from './win32-error.js';

/**
 * A Win32 handle value (`HANDLE`), as a number.
 *
 * @example
 * ```ts
 * const value: HandleValue = handle.value;
 * ```
 */
export type HandleValue = number;
/**
 * A native pointer as koffi 3 represents it (a BigInt address), or `null` for NULL.
 *
 * @example
 * ```ts
 * const base: NativePointer = kernel32().MapViewOfFile(mapping.value, access, 0, 0, size);
 * ```
 */
export type NativePointer = bigint | null;
/**
 * A Win32 `BOOL`: 0 is failure, anything else success.
 *
 * @example
 * ```ts
 * const ok: Bool = kernel32().SetEvent(event.value);
 * ```
 */
export type Bool = number;
/**
 * One-element array koffi fills for an `_Out_` parameter.
 *
 * @example
 * ```ts
 * const pid: Out<number> = [0];
 * kernel32().GetNamedPipeClientProcessId(pipe.value, pid);
 * ```
 */
export type Out<T> = [T];

/**
 * The `SECURITY_ATTRIBUTES` structure as JS sees it.
 *
 * @example
 * ```ts
 * withSecurityAttributes(undefined, (sa: SecurityAttributesStruct) => kernel32().CreateEventW(sa, 1, 0, null));
 * ```
 */
export interface SecurityAttributesStruct {
  nLength: number;
  lpSecurityDescriptor: NativePointer;
  bInheritHandle: number;
}

/**
 * The kernel32 functions busway calls. Each mirrors the Win32 signature of the same name.
 *
 * @example
 * ```ts
 * const k32: Kernel32 = kernel32();
 * ```
 */
export interface Kernel32 {
  GetLastError(): number;
  CloseHandle(handle: HandleValue): Bool;
  LocalFree(memory: NativePointer): NativePointer;
  FormatMessageW(
    flags: number,
    source: null,
    messageId: number,
    languageId: number,
    buffer: Uint8Array,
    size: number,
    args: null,
  ): number;
  GetCurrentProcess(): HandleValue;
  GetCurrentProcessId(): number;

  CreateFileW(
    name: string,
    access: number,
    share: number,
    sa: SecurityAttributesStruct | null,
    disposition: number,
    flags: number,
    template: HandleValue,
  ): HandleValue;
  /** Synchronous form: `overlapped` must be 0. */
  ReadFile(handle: HandleValue, buffer: Uint8Array, size: number, read: Out<number>, overlapped: 0): Bool;
  /** Synchronous form: `overlapped` must be 0. */
  WriteFile(handle: HandleValue, buffer: Uint8Array, size: number, written: Out<number>, overlapped: 0): Bool;
  /** Overlapped form: buffer and OVERLAPPED are addresses of memory that outlives the call. */
  ReadFileOverlapped(handle: HandleValue, buffer: number, size: number, read: number, overlapped: number): Bool;
  /** Overlapped form: buffer and OVERLAPPED are addresses of memory that outlives the call. */
  WriteFileOverlapped(handle: HandleValue, buffer: number, size: number, written: number, overlapped: number): Bool;

  CreateNamedPipeW(
    name: string,
    openMode: number,
    pipeMode: number,
    maxInstances: number,
    outBuffer: number,
    inBuffer: number,
    defaultTimeout: number,
    sa: SecurityAttributesStruct | null,
  ): HandleValue;
  ConnectNamedPipe(handle: HandleValue, overlapped: number): Bool;
  DisconnectNamedPipe(handle: HandleValue): Bool;
  SetNamedPipeHandleState(
    handle: HandleValue,
    mode: Uint32Array | null,
    maxCollectionCount: null,
    collectDataTimeout: null,
  ): Bool;
  WaitNamedPipeW(name: string, timeout: number): Bool;
  GetNamedPipeClientProcessId(handle: HandleValue, pid: Out<number>): Bool;
  GetNamedPipeServerProcessId(handle: HandleValue, pid: Out<number>): Bool;
  PeekNamedPipe(
    handle: HandleValue,
    buffer: Uint8Array | null,
    size: number,
    read: Out<number>,
    available: Out<number>,
    leftThisMessage: Out<number>,
  ): Bool;

  CreateMailslotW(
    name: string,
    maxMessageSize: number,
    readTimeout: number,
    sa: SecurityAttributesStruct | null,
  ): HandleValue;
  GetMailslotInfo(
    handle: HandleValue,
    maxMessageSize: Out<number>,
    nextSize: Out<number>,
    messageCount: Out<number>,
    readTimeout: Out<number>,
  ): Bool;
  SetMailslotInfo(handle: HandleValue, readTimeout: number): Bool;

  CreateFileMappingW(
    file: HandleValue,
    sa: SecurityAttributesStruct | null,
    protect: number,
    sizeHigh: number,
    sizeLow: number,
    name: string | null,
  ): HandleValue;
  OpenFileMappingW(access: number, inherit: Bool, name: string): HandleValue;
  MapViewOfFile(
    mapping: HandleValue,
    access: number,
    offsetHigh: number,
    offsetLow: number,
    bytes: number,
  ): NativePointer;
  UnmapViewOfFile(base: NativePointer): Bool;

  CreateEventW(
    sa: SecurityAttributesStruct | null,
    manualReset: Bool,
    initialState: Bool,
    name: string | null,
  ): HandleValue;
  OpenEventW(access: number, inherit: Bool, name: string): HandleValue;
  SetEvent(handle: HandleValue): Bool;
  ResetEvent(handle: HandleValue): Bool;
  CreateSemaphoreW(
    sa: SecurityAttributesStruct | null,
    initialCount: number,
    maximumCount: number,
    name: string | null,
  ): HandleValue;
  OpenSemaphoreW(access: number, inherit: Bool, name: string): HandleValue;
  ReleaseSemaphore(handle: HandleValue, releaseCount: number, previousCount: Out<number> | null): Bool;
  CreateMutexW(sa: SecurityAttributesStruct | null, initialOwner: Bool, name: string | null): HandleValue;
  ReleaseMutex(handle: HandleValue): Bool;
  WaitForSingleObject(handle: HandleValue, milliseconds: number): number;
  WaitForMultipleObjects(count: number, handles: HandleValue[], waitAll: Bool, milliseconds: number): number;
  SignalObjectAndWait(toSignal: HandleValue, toWaitOn: HandleValue, milliseconds: number, alertable: Bool): number;

  CreateIoCompletionPort(
    file: HandleValue,
    existingPort: HandleValue,
    completionKey: number,
    concurrentThreads: number,
  ): HandleValue;
  GetQueuedCompletionStatusEx(
    port: HandleValue,
    entries: number,
    count: number,
    removed: number,
    milliseconds: number,
    alertable: Bool,
  ): Bool;
  PostQueuedCompletionStatus(port: HandleValue, bytes: number, completionKey: number, overlapped: number): Bool;
  CancelIoEx(handle: HandleValue, overlapped: number): Bool;
  GetOverlappedResult(handle: HandleValue, overlapped: number, transferred: Out<number>, wait: Bool): Bool;
}

/**
 * Every kernel32 function also has koffi's `.async` form, which runs the call on a libuv thread.
 *
 * @example
 * ```ts
 * kernel32().WaitForSingleObject.async(h, 1000, (err, result) => {});
 * ```
 */
export type AsyncForm<F> = F extends (...args: infer A) => infer R
  ? { async(...args: [...A, (err: unknown, result: R) => void]): void }
  : never;

/**
 * The bindings, each callable synchronously and through `.async`.
 *
 * @example
 * ```ts
 * const k32: Kernel32Bindings = kernel32();
 * ```
 */
export type Kernel32Bindings = { readonly [K in keyof Kernel32]: Kernel32[K] & AsyncForm<Kernel32[K]> };

let bindings: Kernel32Bindings | undefined;

/**
 * The kernel32 bindings, loading koffi and kernel32.dll on the first call. Throws
 * `PlatformError` off Windows.
 *
 * @example
 * ```ts
 * const k32 = kernel32();
 * const pid = k32.GetCurrentProcessId();
 * ```
 */
export function kernel32(): Kernel32Bindings {
  if (bindings === undefined) {
    assertWindows('kernel32');
    bindings = bind();
    const k32 = bindings;
    setSystemMessageFormatter((errno) => formatSystemMessage(k32, errno));
  }
  return bindings;
}

function formatSystemMessage(k32: Kernel32, errno: number): string | undefined {
  const buffer = new Uint8Array(1024);
  const flags = FormatMessage.FORMAT_MESSAGE_FROM_SYSTEM | FormatMessage.FORMAT_MESSAGE_IGNORE_INSERTS;
  const length = k32.FormatMessageW(flags, null, errno, 0, buffer, buffer.length / 2, null);
  if (length === 0) return undefined;
  // System messages end with CR LF (and sometimes a full stop we keep).
  return Buffer.from(buffer.buffer, 0, length * 2)
    .toString('utf16le')
    .trim();
}

function bind(): Kernel32Bindings {
  const koffi = loadKoffi();
  const lib = koffi.load('kernel32.dll');
  const HANDLE = 'intptr_t';
  const DWORD = 'uint32_t';
  const BOOL = 'int32_t';
  const ADDR = 'intptr_t';
  const PTR = 'void *';
  const LPCWSTR = 'str16';
  const OUT_DWORD = koffi.out(koffi.pointer(DWORD));
  const OUT_LONG = koffi.out(koffi.pointer('int32_t'));
  const LPSA = koffi.pointer(koffi.struct({ nLength: DWORD, lpSecurityDescriptor: PTR, bInheritHandle: BOOL }));
  const f = (name: string, result: string, args: unknown[], symbol = name): [string, unknown] => [
    name,
    lib.func('__stdcall', symbol, result, args as Parameters<typeof lib.func>[3]),
  ];

  const table = [
    f('GetLastError', DWORD, []),
    f('CloseHandle', BOOL, [HANDLE]),
    f('LocalFree', PTR, [PTR]),
    f('FormatMessageW', DWORD, [DWORD, PTR, DWORD, DWORD, PTR, DWORD, PTR]),
    f('GetCurrentProcess', HANDLE, []),
    f('GetCurrentProcessId', DWORD, []),

    f('CreateFileW', HANDLE, [LPCWSTR, DWORD, DWORD, LPSA, DWORD, DWORD, HANDLE]),
    f('ReadFile', BOOL, [HANDLE, PTR, DWORD, OUT_DWORD, ADDR]),
    f('WriteFile', BOOL, [HANDLE, PTR, DWORD, OUT_DWORD, ADDR]),
    f('ReadFileOverlapped', BOOL, [HANDLE, ADDR, DWORD, ADDR, ADDR], 'ReadFile'),
    f('WriteFileOverlapped', BOOL, [HANDLE, ADDR, DWORD, ADDR, ADDR], 'WriteFile'),

    f('CreateNamedPipeW', HANDLE, [LPCWSTR, DWORD, DWORD, DWORD, DWORD, DWORD, DWORD, LPSA]),
    f('ConnectNamedPipe', BOOL, [HANDLE, ADDR]),
    f('DisconnectNamedPipe', BOOL, [HANDLE]),
    f('SetNamedPipeHandleState', BOOL, [HANDLE, koffi.pointer(DWORD), koffi.pointer(DWORD), koffi.pointer(DWORD)]),
    f('WaitNamedPipeW', BOOL, [LPCWSTR, DWORD]),
    f('GetNamedPipeClientProcessId', BOOL, [HANDLE, OUT_DWORD]),
    f('GetNamedPipeServerProcessId', BOOL, [HANDLE, OUT_DWORD]),
    f('PeekNamedPipe', BOOL, [HANDLE, PTR, DWORD, OUT_DWORD, OUT_DWORD, OUT_DWORD]),

    f('CreateMailslotW', HANDLE, [LPCWSTR, DWORD, DWORD, LPSA]),
    f('GetMailslotInfo', BOOL, [HANDLE, OUT_DWORD, OUT_DWORD, OUT_DWORD, OUT_DWORD]),
    f('SetMailslotInfo', BOOL, [HANDLE, DWORD]),

    f('CreateFileMappingW', HANDLE, [HANDLE, LPSA, DWORD, DWORD, DWORD, LPCWSTR]),
    f('OpenFileMappingW', HANDLE, [DWORD, BOOL, LPCWSTR]),
    f('MapViewOfFile', PTR, [HANDLE, DWORD, DWORD, DWORD, 'size_t']),
    f('UnmapViewOfFile', BOOL, [PTR]),

    f('CreateEventW', HANDLE, [LPSA, BOOL, BOOL, LPCWSTR]),
    f('OpenEventW', HANDLE, [DWORD, BOOL, LPCWSTR]),
    f('SetEvent', BOOL, [HANDLE]),
    f('ResetEvent', BOOL, [HANDLE]),
    f('CreateSemaphoreW', HANDLE, [LPSA, 'int32_t', 'int32_t', LPCWSTR]),
    f('OpenSemaphoreW', HANDLE, [DWORD, BOOL, LPCWSTR]),
    f('ReleaseSemaphore', BOOL, [HANDLE, 'int32_t', OUT_LONG]),
    f('CreateMutexW', HANDLE, [LPSA, BOOL, LPCWSTR]),
    f('ReleaseMutex', BOOL, [HANDLE]),
    f('WaitForSingleObject', DWORD, [HANDLE, DWORD]),
    f('WaitForMultipleObjects', DWORD, [DWORD, koffi.pointer(HANDLE), BOOL, DWORD]),
    f('SignalObjectAndWait', DWORD, [HANDLE, HANDLE, DWORD, BOOL]),

    f('CreateIoCompletionPort', HANDLE, [HANDLE, HANDLE, 'uintptr_t', DWORD]),
    f('GetQueuedCompletionStatusEx', BOOL, [HANDLE, ADDR, DWORD, ADDR, DWORD, BOOL]),
    f('PostQueuedCompletionStatus', BOOL, [HANDLE, DWORD, 'uintptr_t', ADDR]),
    f('CancelIoEx', BOOL, [HANDLE, ADDR]),
    f('GetOverlappedResult', BOOL, [HANDLE, ADDR, OUT_DWORD, BOOL]),
  ];
  return Object.freeze(Object.fromEntries(table)) as unknown as Kernel32Bindings;
}
