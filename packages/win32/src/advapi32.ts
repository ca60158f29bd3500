/**
 * Typed koffi bindings of the advapi32 security functions busway uses, loaded on first use and
 * only on Windows. Same conventions as `kernel32.ts`.
 *
 * @module
 */
import type { AsyncForm, Bool, HandleValue, NativePointer, Out } from './kernel32.js';
import { loadKoffi } from './koffi-loader.js';
import { assertWindows } from './platform-error.js';

/**
 * The advapi32 functions busway calls. Each mirrors the Win32 signature of the same name.
 *
 * @example
 * ```ts
 * const a32: Advapi32 = advapi32();
 * ```
 */
export interface Advapi32 {
  ConvertStringSecurityDescriptorToSecurityDescriptorW(
    sddl: string,
    revision: number,
    descriptor: Out<NativePointer>,
    size: Out<number> | null,
  ): Bool;
  ConvertSecurityDescriptorToStringSecurityDescriptorW(
    descriptor: NativePointer,
    revision: number,
    information: number,
    sddl: Out<NativePointer>,
    length: Out<number> | null,
  ): Bool;
  /** Returns a Win32 error code (0 on success) rather than setting the last error. */
  GetSecurityInfo(
    handle: HandleValue,
    objectType: number,
    information: number,
    owner: null,
    group: null,
    dacl: Out<NativePointer> | null,
    sacl: null,
    descriptor: Out<NativePointer>,
  ): number;
  OpenProcessToken(process: HandleValue, access: number, token: Out<HandleValue>): Bool;
  GetTokenInformation(
    token: HandleValue,
    informationClass: number,
    buffer: NativePointer,
    length: number,
    returned: Out<number>,
  ): Bool;
  ConvertSidToStringSidW(sid: NativePointer, sddl: Out<NativePointer>): Bool;
}

/**
 * The bindings, each callable synchronously and through `.async`.
 *
 * @example
 * ```ts
 * advapi32().ConvertSidToStringSidW.async(sid, out, (err, ok) => {});
 * ```
 */
export type Advapi32Bindings = { readonly [K in keyof Advapi32]: Advapi32[K] & AsyncForm<Advapi32[K]> };

let bindings: Advapi32Bindings | undefined;

/**
 * The advapi32 bindings, loading advapi32.dll on the first call. Throws `PlatformError` off
 * Windows.
 *
 * @example
 * ```ts
 * const token: [number] = [0];
 * advapi32().OpenProcessToken(kernel32().GetCurrentProcess(), Security.TOKEN_QUERY, token);
 * ```
 */
export function advapi32(): Advapi32Bindings {
  if (bindings === undefined) {
    assertWindows('advapi32');
    bindings = bind();
  }
  return bindings;
}

function bind(): Advapi32Bindings {
  const koffi = loadKoffi();
  const lib = koffi.load('advapi32.dll');
  const HANDLE = 'intptr_t';
  const DWORD = 'uint32_t';
  const BOOL = 'int32_t';
  const PTR = 'void *';
  const OUT_PTR = koffi.out(koffi.pointer(PTR));
  const OUT_DWORD = koffi.out(koffi.pointer(DWORD));
  const f = (name: string, result: string, args: unknown[]): [string, unknown] => [
    name,
    lib.func('__stdcall', name, result, args as Parameters<typeof lib.func>[3]),
  ];
  const table = [
    f('ConvertStringSecurityDescriptorToSecurityDescriptorW', BOOL, ['str16', DWORD, OUT_PTR, OUT_DWORD]),
    f('ConvertSecurityDescriptorToStringSecurityDescriptorW', BOOL, [PTR, DWORD, DWORD, OUT_PTR, OUT_DWORD]),
    f('GetSecurityInfo', DWORD, [HANDLE, 'int32_t', DWORD, OUT_PTR, OUT_PTR, OUT_PTR, OUT_PTR, OUT_PTR]),
    f('OpenProcessToken', BOOL, [HANDLE, DWORD, koffi.out(koffi.pointer(HANDLE))]),
    f('GetTokenInformation', BOOL, [HANDLE, 'int32_t', PTR, DWORD, OUT_DWORD]),
    f('ConvertSidToStringSidW', BOOL, [PTR, OUT_PTR]),
  ];
  return Object.freeze(Object.fromEntries(table)) as unknown as Advapi32Bindings;
}
