/**
 * The Win32 {@link DatagramLink}: one mailslot per member, claimed by index.
 *
 * @module
 */
import { BuswayError } from '@busway/core';
import type { DatagramLink, LinkDatagram } from '../DatagramLink.js';
import type { MailslotAddress } from '../MailslotAddress.js';
import type { MailslotTransportOptions } from '../MailslotTransportOptions.js';

/**
 * Claim a slot of the bus and return the link.
 *
 * @example
 * ```ts
 * const link = await openWin32Link({ bus: 'orders', domain: false }, 42, 65536, {}, (d) => handle(d));
 * ```
 */
export function openWin32Link(
  _address: MailslotAddress,
  _memberId: number,
  _maxDatagramSize: number,
  _options: MailslotTransportOptions,
  _onDatagram: (datagram: LinkDatagram) => void,
): Promise<DatagramLink> {
  return Promise.reject(new BuswayError('NOT_IMPLEMENTED', 'the Win32 mailslot link is not written yet'));
}
