/**
 * The factory core calls for `mailslot://` URLs.
 *
 * @module
 */
import type { Transport, TransportContext, TransportFactory } from '@busway/core';
import { parseMailslotUrl } from './MailslotAddress.js';
import type { MailslotTransportOptions } from './MailslotTransportOptions.js';
import { MailslotTransport } from './MailslotTransport.js';
import { openPosixLink } from './posix/PosixDatagramLink.js';

/**
 * Build the mailslot transport for `mailslot://bus` (this machine) or `mailslot://*\/bus` (Windows
 * domain broadcast, 424-byte datagrams). Win32 mailslots on Windows, Unix datagram sockets
 * elsewhere.
 *
 * @example
 * ```ts
 * import { createBus } from '@busway/core';
 * const bus = await createBus('mailslot://orders', { transportOptions: { key: process.env.BUS_KEY } });
 * ```
 */
export const createTransport: TransportFactory = async (url: URL, context: TransportContext): Promise<Transport> => {
  const address = parseMailslotUrl(url);
  const options = context.options as MailslotTransportOptions;
  const maxDatagramSize = options.maxDatagramSize ?? 65536;
  if (process.platform === 'win32') {
    const { openWin32Link } = await import('./win32/Win32DatagramLink.js');
    return new MailslotTransport(address, context.memberId, context.maxFrameSize, options, (onDatagram) =>
      openWin32Link(address, context.memberId, maxDatagramSize, options, onDatagram),
    );
  }
  return new MailslotTransport(address, context.memberId, context.maxFrameSize, options, (onDatagram) =>
    Promise.resolve(openPosixLink(address, context.memberId, maxDatagramSize, options.directory, onDatagram)),
  );
};
