/**
 * What a `mailslot://` URL names.
 *
 * @module
 */
import { ConfigurationError } from '@busway/core';

/** Largest datagram a mailslot may broadcast to a domain (`\\*\mailslot\…`): 424 bytes. */
export const DOMAIN_BROADCAST_LIMIT = 424;

/** The parsed form of `mailslot://bus` or `mailslot://*\/bus`. */
export interface MailslotAddress {
  /** The bus name: letters, digits, `.`, `_`, `-`, 1 to 64 characters (it becomes a file or slot name). */
  readonly bus: string;
  /** `true` for `mailslot://*\/bus`: frames are broadcast to every machine of the Windows domain. */
  readonly domain: boolean;
}

const BUS_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parse a `mailslot://` URL. Throws `ConfigurationError` for anything else.
 *
 * @example
 * ```ts
 * parseMailslotUrl(new URL('mailslot://orders'));   // { bus: 'orders', domain: false }
 * parseMailslotUrl(new URL('mailslot://*\/orders')); // { bus: 'orders', domain: true }
 * ```
 */
export function parseMailslotUrl(url: URL): MailslotAddress {
  if (url.protocol !== 'mailslot:') throw new ConfigurationError(`not a mailslot:// URL: ${url.href}`);
  let bus: string;
  let domain = false;
  if (url.hostname === '*') {
    domain = true;
    bus = url.pathname.replace(/^\//, '').replace(/\/$/, '');
  } else {
    if (url.pathname !== '' && url.pathname !== '/') {
      throw new ConfigurationError(`mailslot://${url.hostname}${url.pathname}: use mailslot://bus or mailslot://*/bus`);
    }
    bus = url.hostname;
  }
  // '.' and '..' would escape the socket directory on POSIX.
  if (!BUS_NAME.test(bus) || bus === '.' || bus === '..') {
    throw new ConfigurationError(`bad mailslot bus name "${bus}": use 1-64 letters, digits, '.', '_' or '-'`);
  }
  return { bus, domain };
}
