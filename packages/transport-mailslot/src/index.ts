/**
 * `@busway/transport-mailslot`: the `mailslot://` transport (Win32 mailslots; Unix datagram
 * sockets on POSIX), plus the frame authenticator it uses.
 *
 * @example
 * ```ts
 * import { createBus } from '@busway/core';
 * const bus = await createBus('mailslot://orders');
 * ```
 *
 * @module
 */
export { createTransport } from './createTransport.js';
export type { MailslotTransportOptions } from './MailslotTransportOptions.js';
export { parseMailslotUrl, DOMAIN_BROADCAST_LIMIT } from './MailslotAddress.js';
export type { MailslotAddress } from './MailslotAddress.js';
export { FrameAuthenticator, AUTH_TRAILER_SIZE } from './FrameAuthenticator.js';
export type { FrameAuthenticatorOptions, OpenResult, RejectReason } from './FrameAuthenticator.js';
export { InsecureSlotDirectoryError, DatagramSocketError, BusFullError } from './errors.js';
export { Mailslot } from './win32/Mailslot.js';
export type { MailslotServerOptions } from './win32/Mailslot.js';
export { MailslotWriter } from './win32/MailslotWriter.js';
export type { MailslotWriterOptions } from './win32/MailslotWriter.js';
