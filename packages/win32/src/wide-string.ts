/**
 * UTF-16, in one place. Win32 "W" functions take NUL-terminated UTF-16 strings: koffi's `str16`
 * type converts JS strings on the way in, so what remains is refusing names that cannot survive
 * the trip (an embedded NUL would silently truncate the name, naming a different object) and
 * decoding the UTF-16 strings Win32 hands back.
 *
 * @module
 */
import { ConfigurationError } from '@busway/core';
import { loadKoffi } from './koffi-loader.js';

/**
 * Check that a string can be passed as a Win32 wide-string name: not empty, no NUL, at most
 * `maxLength` UTF-16 code units. Returns it unchanged.
 *
 * @example
 * ```ts
 * const name = checkWideName('\\\\.\\pipe\\orders', 256);
 * ```
 */
export function checkWideName(name: string, maxLength = 32_767): string {
  if (name.length === 0) throw new ConfigurationError('a Win32 object name cannot be empty');
  if (name.includes('\0'))
    throw new ConfigurationError(`Win32 object name contains a NUL character: ${JSON.stringify(name)}`);
  if (name.length > maxLength)
    throw new ConfigurationError(`Win32 object name is longer than ${maxLength} UTF-16 code units`);
  return name;
}

/**
 * Read a NUL-terminated UTF-16 string from native memory (for example one a Win32 function
 * allocated with `LocalAlloc`).
 *
 * @example
 * ```ts
 * const sddl = readWideString(pointer);
 * ```
 */
export function readWideString(pointer: bigint): string {
  return loadKoffi().decode.string16(pointer);
}

/**
 * Decode `chars` UTF-16 code units from the start of a byte buffer that a Win32 function filled.
 *
 * @example
 * ```ts
 * const text = decodeWide(buffer, written);
 * ```
 */
export function decodeWide(bytes: Uint8Array, chars: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(chars * 2, bytes.byteLength)).toString('utf16le');
}
