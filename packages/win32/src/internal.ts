/**
 * `@busway/win32/internal`: the raw koffi bindings, for sibling packages that need a Win32 call
 * the public API does not wrap. Every failure must still become a `Win32Error`: use
 * `checkBool`/`checkHandle`/`lastError` right after the call.
 *
 * @example
 * ```ts
 * import { kernel32, checkBool } from '@busway/win32/internal';
 * checkBool(kernel32().CancelIoEx(h.value, 0), 'CancelIoEx');
 * ```
 *
 * @module
 */
export { kernel32 } from './kernel32.js';
export type {
  Kernel32,
  Kernel32Bindings,
  HandleValue,
  NativePointer,
  Bool,
  Out,
  SecurityAttributesStruct,
  AsyncForm,
} from './kernel32.js';
export { advapi32 } from './advapi32.js';
export type { Advapi32, Advapi32Bindings } from './advapi32.js';
export { checkBool, checkHandle, lastError } from './last-error.js';
export { loadKoffi } from './koffi-loader.js';
export type { KoffiModule } from './koffi-loader.js';
export { setSystemMessageFormatter } from './win32-error.js';
