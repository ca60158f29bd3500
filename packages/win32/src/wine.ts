/**
 * Telling Wine from Windows. Wine does not implement every check Windows makes (it does not
 * enforce `FILE_FLAG_FIRST_PIPE_INSTANCE`, nor every DACL), so tests, and code that reports what
 * it can guarantee, need to know which one they run on.
 *
 * @module
 */
import { loadKoffi } from './koffi-loader.js';
import { assertWindows } from './platform-error.js';

let version: string | null | undefined;

/**
 * The Wine version (e.g. `'8.0'`) when this Windows process runs under Wine, `undefined` on a
 * real Windows. Wine's ntdll exports `wine_get_version`; Windows' does not.
 *
 * @example
 * ```ts
 * if (wineVersion() !== undefined) console.warn('Wine: access checks are not all enforced');
 * ```
 */
export function wineVersion(): string | undefined {
  assertWindows('wineVersion');
  if (version === undefined) {
    try {
      const getVersion = loadKoffi().load('ntdll.dll').func('__stdcall', 'wine_get_version', 'str', []) as () => string;
      version = getVersion();
    } catch {
      // koffi could not find the symbol: this is Windows.
      version = null;
    }
  }
  return version ?? undefined;
}
