/**
 * Named file mappings backed by the paging file: shared memory between processes. Create (or
 * open) the mapping, then map a view and work on it as a JS `ArrayBuffer` that aliases the
 * shared pages (no copy).
 *
 * @module
 */
import { INVALID_HANDLE_VALUE, MemoryProtection } from './constants.js';
import { Win32Handle } from './handle.js';
import { kernel32, type NativePointer } from './kernel32.js';
import { loadKoffi } from './koffi-loader.js';
import { checkBool, checkHandle, lastError } from './last-error.js';
import { kernelObjectName } from './object-names.js';
import { assertWindows } from './platform-error.js';
import { withSecurityAttributes } from './security-attributes.js';

/**
 * Options of {@link createFileMapping}; every field documents its default.
 *
 * @example
 * ```ts
 * createFileMapping('ring', 1 << 20, { sddl: 'D:P(A;;GA;;;SY)' } satisfies FileMappingOptions);
 * ```
 */
export interface FileMappingOptions {
  /** SDDL of the mapping's security descriptor. Default: current user and SYSTEM only. */
  readonly sddl?: string;
}

/**
 * Result of {@link createFileMapping}.
 *
 * @example
 * ```ts
 * const { handle, existed }: CreatedFileMapping = createFileMapping('ring', 1 << 20);
 * ```
 */
export interface CreatedFileMapping {
  readonly handle: Win32Handle;
  /** The mapping already existed (`ERROR_ALREADY_EXISTS`): this opened it, at its own size. */
  readonly existed: boolean;
}

/**
 * Create a named, pagefile-backed mapping of `size` bytes, or open it if it exists. The name
 * gets a `Local\` prefix unless it has one.
 *
 * @example
 * ```ts
 * const { handle } = createFileMapping('orders-ring', 1 << 20);
 * const view = mapView(handle, 1 << 20);
 * ```
 */
export function createFileMapping(name: string, size: number, options: FileMappingOptions = {}): CreatedFileMapping {
  assertWindows('createFileMapping');
  const full = kernelObjectName(name);
  const k32 = kernel32();
  const raw = withSecurityAttributes(options.sddl, (sa) =>
    k32.CreateFileMappingW(
      INVALID_HANDLE_VALUE,
      sa,
      MemoryProtection.PAGE_READWRITE,
      Math.floor(size / 0x1_0000_0000),
      size >>> 0,
      full,
    ),
  );
  const value = checkHandle(raw, 0, 'CreateFileMappingW', full);
  // Read right away: the next koffi call (Win32Handle's bookkeeping makes none, but be explicit).
  const existed = k32.GetLastError() === 183;
  return { handle: new Win32Handle(value, 'file-mapping', full), existed };
}

/**
 * Open an existing named mapping. Throws `Win32Error` (`ERROR_FILE_NOT_FOUND`) if nobody created
 * it.
 *
 * @example
 * ```ts
 * const mapping = openFileMapping('orders-ring');
 * ```
 */
export function openFileMapping(name: string, access: 'read' | 'write' = 'write'): Win32Handle {
  assertWindows('openFileMapping');
  const full = kernelObjectName(name);
  const rights =
    access === 'write'
      ? MemoryProtection.FILE_MAP_WRITE | MemoryProtection.FILE_MAP_READ
      : MemoryProtection.FILE_MAP_READ;
  const raw = kernel32().OpenFileMappingW(rights, 0, full);
  return new Win32Handle(checkHandle(raw, 0, 'OpenFileMappingW', full), 'file-mapping', full);
}

/**
 * A mapped view of a file mapping. `buffer` aliases the shared memory: writes through it are
 * seen by every other view of the mapping, in this process or another. Unmap exactly once, and
 * never touch `buffer` afterwards.
 *
 * @example
 * ```ts
 * const view = mapView(mapping, 4096);
 * new Uint8Array(view.buffer)[0] = 1;
 * view.unmap();
 * ```
 */
export class MappedView {
  /** Size of the view, in bytes. */
  readonly size: number;
  #base: NativePointer;
  #buffer: ArrayBuffer | undefined;

  /** @internal Use {@link mapView}. */
  constructor(base: bigint, size: number) {
    this.#base = base;
    this.size = size;
    this.#buffer = loadKoffi().view(base, size);
  }

  /** The view's memory; throws once unmapped. */
  get buffer(): ArrayBuffer {
    if (this.#buffer === undefined) throw new Error('mapped view used after unmap()');
    return this.#buffer;
  }

  /** Whether {@link MappedView.unmap} has been called. */
  get unmapped(): boolean {
    return this.#buffer === undefined;
  }

  /** Unmap the view. Idempotent. */
  unmap(): void {
    if (this.#buffer === undefined) return;
    this.#buffer = undefined;
    const base = this.#base;
    this.#base = null;
    checkBool(kernel32().UnmapViewOfFile(base), 'UnmapViewOfFile');
  }
}

/**
 * Map `size` bytes of a mapping (from `offset`, a multiple of 64 KiB) into this process.
 *
 * @example
 * ```ts
 * const view = mapView(mapping, 4096);
 * const bytes = new Uint8Array(view.buffer);
 * ```
 */
export function mapView(
  mapping: Win32Handle,
  size: number,
  options: { readonly offset?: number; readonly access?: 'read' | 'write' } = {},
): MappedView {
  const offset = options.offset ?? 0;
  const access =
    (options.access ?? 'write') === 'write'
      ? MemoryProtection.FILE_MAP_WRITE | MemoryProtection.FILE_MAP_READ
      : MemoryProtection.FILE_MAP_READ;
  const base = kernel32().MapViewOfFile(mapping.value, access, Math.floor(offset / 0x1_0000_0000), offset >>> 0, size);
  if (base === null) throw lastError('MapViewOfFile', mapping.name);
  return new MappedView(base, size);
}
