/**
 * What a `pipe://` URL names.
 *
 * @module
 */
import { ConfigurationError } from '@busway/core';

/** A parsed `pipe://` URL. */
export interface PipeAddress {
  /** The bus name: letters, digits, `.`, `_`, `-`, at most 64. */
  readonly name: string;
  /** The server of a remote Win32 pipe (`pipe://server/name`); `undefined` for a local bus. */
  readonly server: string | undefined;
}

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Check a bus name: letters, digits, `.`, `_`, `-`, at most 64, so that it can never climb out of
 * the socket directory nor reach another pipe namespace.
 *
 * @example
 * ```ts
 * checkPipeName('orders'); // 'orders'
 * checkPipeName('../etc'); // throws ConfigurationError
 * ```
 */
export function checkPipeName(name: string): string {
  if (!NAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw new ConfigurationError(`pipe name "${name}" must be 1 to 64 of A-Z a-z 0-9 . _ -`);
  }
  return name;
}

/**
 * Parse `pipe://name` (local) or `pipe://server/name` (a pipe on another Windows machine).
 *
 * @example
 * ```ts
 * parsePipeUrl(new URL('pipe://orders'));         // { name: 'orders', server: undefined }
 * parsePipeUrl(new URL('pipe://build01/orders')); // { name: 'orders', server: 'build01' }
 * ```
 */
export function parsePipeUrl(url: URL): PipeAddress {
  if (url.protocol !== 'pipe:') throw new ConfigurationError(`not a pipe:// URL: ${url.href}`);
  if (url.username !== '' || url.password !== '' || url.port !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigurationError(`pipe:// URLs take no credentials, port, query or fragment: ${url.href}`);
  }
  const path = url.pathname.replace(/^\//, '');
  if (path === '') return { name: checkPipeName(url.hostname), server: undefined };
  // "." is how Win32 spells the local machine; accept it as local.
  const server = url.hostname === '.' || url.hostname === 'localhost' ? undefined : url.hostname;
  if (server !== undefined && !/^[A-Za-z0-9.-]{1,253}$/.test(server))
    throw new ConfigurationError(`bad pipe server name "${server}"`);
  return { name: checkPipeName(path), server };
}
