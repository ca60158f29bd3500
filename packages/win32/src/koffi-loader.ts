/**
 * Loads koffi on first use. koffi is a native addon: importing it eagerly would load a `.node`
 * file in every process that merely imports busway, on every platform. Going through
 * `createRequire` keeps the load synchronous (bindings are needed inside synchronous calls) and
 * out of the static import graph.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

/**
 * The koffi module's type.
 *
 * @example
 * ```ts
 * const koffi: KoffiModule = loadKoffi();
 * ```
 */
export type KoffiModule = typeof Koffi;

let koffi: KoffiModule | undefined;

/**
 * The koffi module, loaded on the first call.
 *
 * @example
 * ```ts
 * const size = loadKoffi().sizeof('intptr_t');
 * ```
 */
export function loadKoffi(): KoffiModule {
  if (koffi === undefined) {
    const require = createRequire(import.meta.url);
    koffi = require('koffi') as KoffiModule;
  }
  return koffi;
}

/**
 * Whether koffi has been loaded in this process (by this package). Lets tests check that merely
 * importing busway loads nothing native.
 *
 * @example
 * ```ts
 * import '@busway/win32';
 * console.log(isKoffiLoaded()); // false until a Win32 call is made
 * ```
 */
export function isKoffiLoaded(): boolean {
  return koffi !== undefined;
}
