/**
 * The Win32 constants the bindings and transports use, with the values from the Windows SDK
 * headers. Grouped by API so a transport imports what it needs by name.
 *
 * @module
 */

/**
 * `INVALID_HANDLE_VALUE`: what `CreateFileW`, `CreateNamedPipeW` and `CreateMailslotW` return on failure.
 *
 * @example
 * ```ts
 * if (kernel32().CreateFileW(path, access, 0, null, 3, 0, 0) === INVALID_HANDLE_VALUE) throw lastError('CreateFileW');
 * ```
 */
export const INVALID_HANDLE_VALUE = -1;
/**
 * `INFINITE`: wait without a timeout.
 *
 * @example
 * ```ts
 * waitForSingleObject(event, INFINITE);
 * ```
 */
export const INFINITE = 0xffffffff;

/**
 * Access rights and flags for `CreateFileW` and friends.
 *
 * @example
 * ```ts
 * const access = FileAccess.GENERIC_READ | FileAccess.GENERIC_WRITE;
 * ```
 */
export const FileAccess = {
  GENERIC_READ: 0x80000000,
  GENERIC_WRITE: 0x40000000,
  FILE_SHARE_READ: 0x1,
  FILE_SHARE_WRITE: 0x2,
  OPEN_EXISTING: 3,
  FILE_ATTRIBUTE_NORMAL: 0x80,
  FILE_FLAG_OVERLAPPED: 0x40000000,
  /** With `SECURITY_IDENTIFICATION`: a server may identify, but not impersonate, the client. */
  SECURITY_SQOS_PRESENT: 0x00100000,
  SECURITY_IDENTIFICATION: 0x00010000,
  /** `FILE_WRITE_ATTRIBUTES`, needed on a pipe client handle to call `SetNamedPipeHandleState`. */
  FILE_WRITE_ATTRIBUTES: 0x100,
  /** `READ_CONTROL`: read the security descriptor of an object. */
  READ_CONTROL: 0x00020000,
  SYNCHRONIZE: 0x00100000,
} as const;

/**
 * Open modes and pipe modes for `CreateNamedPipeW`.
 *
 * @example
 * ```ts
 * const mode = PipeMode.PIPE_TYPE_MESSAGE | PipeMode.PIPE_READMODE_MESSAGE;
 * ```
 */
export const PipeMode = {
  PIPE_ACCESS_INBOUND: 0x1,
  PIPE_ACCESS_OUTBOUND: 0x2,
  PIPE_ACCESS_DUPLEX: 0x3,
  /** Fail if a pipe of that name already exists: nobody can squat the name before us. */
  FILE_FLAG_FIRST_PIPE_INSTANCE: 0x00080000,
  FILE_FLAG_OVERLAPPED: 0x40000000,
  PIPE_TYPE_BYTE: 0x0,
  PIPE_TYPE_MESSAGE: 0x4,
  PIPE_READMODE_BYTE: 0x0,
  PIPE_READMODE_MESSAGE: 0x2,
  PIPE_WAIT: 0x0,
  PIPE_NOWAIT: 0x1,
  /** Refuse SMB clients from other machines: the bus is local. */
  PIPE_REJECT_REMOTE_CLIENTS: 0x8,
  PIPE_UNLIMITED_INSTANCES: 255,
  /** `NMPWAIT_WAIT_FOREVER` for `WaitNamedPipeW`. */
  NMPWAIT_WAIT_FOREVER: 0xffffffff,
  /** `NMPWAIT_USE_DEFAULT_WAIT` for `WaitNamedPipeW`: the server's default timeout. */
  NMPWAIT_USE_DEFAULT_WAIT: 0,
} as const;

/**
 * Values for `CreateMailslotW` and `GetMailslotInfo`.
 *
 * @example
 * ```ts
 * createMailslot('orders', { readTimeout: Mailslot.MAILSLOT_WAIT_FOREVER });
 * ```
 */
export const Mailslot = {
  /** `MAILSLOT_WAIT_FOREVER`: read timeout meaning "block until a message arrives". */
  MAILSLOT_WAIT_FOREVER: 0xffffffff,
  /** `MAILSLOT_NO_MESSAGE`: `GetMailslotInfo` next-size value when the slot is empty. */
  MAILSLOT_NO_MESSAGE: 0xffffffff,
} as const;

/**
 * Page protections and view access for file mappings.
 *
 * @example
 * ```ts
 * kernel32().MapViewOfFile(mapping.value, MemoryProtection.FILE_MAP_READ, 0, 0, 4096);
 * ```
 */
export const MemoryProtection = {
  PAGE_READONLY: 0x02,
  PAGE_READWRITE: 0x04,
  /** `SEC_COMMIT`, the default for pagefile-backed sections. */
  SEC_COMMIT: 0x08000000,
  FILE_MAP_WRITE: 0x0002,
  FILE_MAP_READ: 0x0004,
  FILE_MAP_ALL_ACCESS: 0x000f001f,
} as const;

/**
 * Access rights and results for events, semaphores and waits.
 *
 * @example
 * ```ts
 * if (kernel32().WaitForSingleObject(h, 0) === Synchronization.WAIT_TIMEOUT) later();
 * ```
 */
export const Synchronization = {
  EVENT_MODIFY_STATE: 0x0002,
  EVENT_ALL_ACCESS: 0x001f0003,
  SEMAPHORE_MODIFY_STATE: 0x0002,
  SEMAPHORE_ALL_ACCESS: 0x001f0003,
  SYNCHRONIZE: 0x00100000,
  WAIT_OBJECT_0: 0,
  WAIT_ABANDONED_0: 0x80,
  WAIT_TIMEOUT: 258,
  WAIT_FAILED: 0xffffffff,
} as const;

/**
 * Values for `GetSecurityInfo`, token queries and SDDL conversion.
 *
 * @example
 * ```ts
 * readDacl(pipe); // uses Security.DACL_SECURITY_INFORMATION
 * ```
 */
export const Security = {
  /** `SDDL_REVISION_1`. */
  SDDL_REVISION_1: 1,
  /** `SE_KERNEL_OBJECT`: events, semaphores, file mappings, pipes (as kernel objects). */
  SE_KERNEL_OBJECT: 6,
  /** `SE_FILE_OBJECT`: files, named pipes, mailslots. */
  SE_FILE_OBJECT: 1,
  OWNER_SECURITY_INFORMATION: 0x1,
  GROUP_SECURITY_INFORMATION: 0x2,
  DACL_SECURITY_INFORMATION: 0x4,
  TOKEN_QUERY: 0x0008,
  /** `TokenUser` of `TOKEN_INFORMATION_CLASS`. */
  TokenUser: 1,
} as const;

/**
 * Flags for `FormatMessageW`.
 *
 * @example
 * ```ts
 * const flags = FormatMessage.FORMAT_MESSAGE_FROM_SYSTEM | FormatMessage.FORMAT_MESSAGE_IGNORE_INSERTS;
 * ```
 */
export const FormatMessage = {
  FORMAT_MESSAGE_IGNORE_INSERTS: 0x200,
  FORMAT_MESSAGE_FROM_SYSTEM: 0x1000,
} as const;

/**
 * The `OVERLAPPED` structure of 64-bit Windows: its size, and the offset of its `hEvent`.
 *
 * @example
 * ```ts
 * const overlapped = new NativeMemory(Overlapped.SIZE);
 * ```
 */
export const Overlapped = {
  SIZE: 32,
  EVENT_OFFSET: 24,
} as const;

/**
 * The `GetLastError` values overlapped I/O branches on: not failures, but how an operation went.
 *
 * @example
 * ```ts
 * if (kernel32().GetLastError() !== IoStatus.ERROR_IO_PENDING) throw lastError('ConnectNamedPipe');
 * ```
 */
export const IoStatus = {
  /** A read took part of a longer message; the rest follows. */
  ERROR_MORE_DATA: 234,
  /** `ConnectNamedPipe`: the client connected before the call. */
  ERROR_PIPE_CONNECTED: 535,
  /** Started; it completes later. */
  ERROR_IO_PENDING: 997,
  /** `CancelIoEx`: nothing left to cancel, it already completed. */
  ERROR_NOT_FOUND: 1168,
} as const;
