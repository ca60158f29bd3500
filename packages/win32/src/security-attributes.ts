/**
 * Security descriptors from SDDL, and reading a live object's DACL back. busway never creates an
 * object with a NULL DACL (which would let anyone, including other users' processes, open it):
 * the default grants full access to the current user and to SYSTEM only.
 *
 * @module
 */
import { ConfigurationError } from '@busway/core';
import { advapi32 } from './advapi32.js';
import { Security } from './constants.js';
import type { Win32Handle } from './handle.js';
import { kernel32, type HandleValue, type NativePointer, type SecurityAttributesStruct } from './kernel32.js';
import { checkBool, lastError } from './last-error.js';
import { NativeMemory } from './native-memory.js';
import { assertWindows } from './platform-error.js';
import { Win32Error } from './win32-error.js';
import { readWideString } from './wide-string.js';

/** `sizeof(SECURITY_ATTRIBUTES)` on 64-bit Windows. */
const SECURITY_ATTRIBUTES_SIZE = 24;

/**
 * The SDDL busway uses when none is given: a protected DACL (`P`, nothing inherited) allowing
 * generic all (`GA`) to SYSTEM (`SY`) and to `userSid`, and nobody else.
 *
 * @example
 * ```ts
 * defaultSddl('S-1-5-21-1-2-3-1001'); // 'D:P(A;;GA;;;SY)(A;;GA;;;S-1-5-21-1-2-3-1001)'
 * ```
 */
export function defaultSddl(userSid: string): string {
  if (!/^S-1(-\d+)+$/.test(userSid)) throw new ConfigurationError(`not a string SID: ${JSON.stringify(userSid)}`);
  return `D:P(A;;GA;;;SY)(A;;GA;;;${userSid})`;
}

/**
 * Refuse SDDL that would produce a NULL DACL (everyone gets every access): `D:NO_ACCESS_CONTROL`,
 * or a descriptor with no `D:` part at all.
 *
 * @example
 * ```ts
 * checkSddl('D:P(A;;GA;;;SY)'); // fine
 * checkSddl('D:NO_ACCESS_CONTROL'); // throws ConfigurationError
 * ```
 */
export function checkSddl(sddl: string): string {
  const dacl = /D:([^:]*?)(?:[OGS]:|$)/.exec(sddl);
  if (dacl === null)
    throw new ConfigurationError(`SDDL has no DACL ("D:" part), which would mean a NULL DACL: ${sddl}`);
  if (/NO_ACCESS_CONTROL/.test(dacl[1] ?? ''))
    throw new ConfigurationError('SDDL D:NO_ACCESS_CONTROL (a NULL DACL) is refused: anyone could open the object');
  return sddl;
}

let cachedUserSid: string | undefined;

/**
 * The string SID of the user running this process (from the process token), e.g.
 * `S-1-5-21-…-1001`. Cached: it cannot change during the process's life.
 *
 * @example
 * ```ts
 * console.log(currentUserSid());
 * ```
 */
export function currentUserSid(): string {
  assertWindows('currentUserSid');
  if (cachedUserSid !== undefined) return cachedUserSid;
  const k32 = kernel32();
  const a32 = advapi32();
  const token: [number] = [0];
  checkBool(a32.OpenProcessToken(k32.GetCurrentProcess(), Security.TOKEN_QUERY, token), 'OpenProcessToken');
  // TOKEN_USER holds a pointer to the SID inside the same buffer: the buffer must not move
  // between GetTokenInformation and ConvertSidToStringSidW, hence native memory.
  const buffer = new NativeMemory(512);
  try {
    const returned: [number] = [0];
    checkBool(
      a32.GetTokenInformation(token[0], Security.TokenUser, buffer.pointer, buffer.size, returned),
      'GetTokenInformation',
      'TokenUser',
    );
    const sid = new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset, 8).getBigUint64(0, true);
    const text: [NativePointer] = [null];
    checkBool(a32.ConvertSidToStringSidW(sid, text), 'ConvertSidToStringSidW');
    cachedUserSid = takeLocalWideString(text[0]);
    return cachedUserSid;
  } finally {
    buffer.free();
    checkBool(k32.CloseHandle(token[0]), 'CloseHandle', 'process token');
  }
}

/** Read a `LocalAlloc`ed wide string and free it. */
function takeLocalWideString(pointer: NativePointer): string {
  if (pointer === null) throw new Error('Win32 returned a NULL string');
  try {
    return readWideString(pointer);
  } finally {
    localFree(pointer);
  }
}

function localFree(pointer: NativePointer): void {
  if (pointer !== null && kernel32().LocalFree(pointer) !== null) throw lastError('LocalFree');
}

/**
 * A `SECURITY_ATTRIBUTES` built from SDDL, owning the security descriptor memory. Pass
 * `struct` to a create call, then `free()` (the object keeps its own copy of the descriptor).
 *
 * @example
 * ```ts
 * const sa = SecurityAttributes.fromSddl('D:P(A;;GA;;;SY)');
 * try {
 *   createWithSa(sa.struct);
 * } finally {
 *   sa.free();
 * }
 * ```
 */
export class SecurityAttributes {
  /** What the bindings take as `LPSECURITY_ATTRIBUTES`. */
  readonly struct: SecurityAttributesStruct;
  /** The SDDL the descriptor was built from. */
  readonly sddl: string;
  #descriptor: NativePointer;

  private constructor(sddl: string, descriptor: NativePointer) {
    this.sddl = sddl;
    this.#descriptor = descriptor;
    this.struct = { nLength: SECURITY_ATTRIBUTES_SIZE, lpSecurityDescriptor: descriptor, bInheritHandle: 0 };
  }

  /**
   * Build from SDDL; `undefined` means {@link defaultSddl} for the current user. Throws
   * `ConfigurationError` for SDDL meaning a NULL DACL and `Win32Error` for malformed SDDL.
   */
  static fromSddl(sddl?: string): SecurityAttributes {
    assertWindows('SecurityAttributes.fromSddl');
    const text = checkSddl(sddl ?? defaultSddl(currentUserSid()));
    const descriptor: [NativePointer] = [null];
    checkBool(
      advapi32().ConvertStringSecurityDescriptorToSecurityDescriptorW(text, Security.SDDL_REVISION_1, descriptor, null),
      'ConvertStringSecurityDescriptorToSecurityDescriptorW',
      text,
    );
    return new SecurityAttributes(text, descriptor[0]);
  }

  /** Free the descriptor memory. Idempotent. */
  free(): void {
    const descriptor = this.#descriptor;
    this.#descriptor = null;
    this.struct.lpSecurityDescriptor = null;
    localFree(descriptor);
  }
}

/**
 * Run `create` with `SECURITY_ATTRIBUTES` built from `sddl` (default: current user and SYSTEM
 * only), freeing the descriptor afterwards whatever happens.
 *
 * @example
 * ```ts
 * const raw = withSecurityAttributes(undefined, (sa) => k32.CreateEventW(sa, 1, 0, name));
 * ```
 */
export function withSecurityAttributes<T>(sddl: string | undefined, create: (sa: SecurityAttributesStruct) => T): T {
  const sa = SecurityAttributes.fromSddl(sddl);
  try {
    return create(sa.struct);
  } finally {
    sa.free();
  }
}

/**
 * Which kind of object a handle refers to, for {@link readDacl}.
 *
 * @example
 * ```ts
 * readDacl(pipe, 'file' satisfies SecurableObjectType);
 * ```
 */
export type SecurableObjectType = 'kernel' | 'file';

/**
 * Read the DACL of a live object back as SDDL (`D:…`). Under Wine the DACL is stored and read
 * back faithfully, but access checks against it are not all enforced; on Windows they are.
 *
 * @example
 * ```ts
 * const pipe = createNamedPipe('orders');
 * console.log(readDacl(pipe, 'file')); // 'D:P(A;;FA;;;SY)(A;;FA;;;S-1-5-21-…)'
 * ```
 */
export function readDacl(handle: Win32Handle | HandleValue, objectType: SecurableObjectType = 'kernel'): string {
  assertWindows('readDacl');
  const value = typeof handle === 'number' ? handle : handle.value;
  const descriptor: [NativePointer] = [null];
  const type = objectType === 'file' ? Security.SE_FILE_OBJECT : Security.SE_KERNEL_OBJECT;
  const a32 = advapi32();
  const status = a32.GetSecurityInfo(
    value,
    type,
    Security.DACL_SECURITY_INFORMATION,
    null,
    null,
    [null],
    null,
    descriptor,
  );
  // GetSecurityInfo returns its error code instead of setting the last error.
  if (status !== 0) throw new Win32Error('GetSecurityInfo', status);
  try {
    const text: [NativePointer] = [null];
    checkBool(
      a32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
        descriptor[0],
        Security.SDDL_REVISION_1,
        Security.DACL_SECURITY_INFORMATION,
        text,
        null,
      ),
      'ConvertSecurityDescriptorToStringSecurityDescriptorW',
    );
    return takeLocalWideString(text[0]);
  } finally {
    localFree(descriptor[0]);
  }
}
