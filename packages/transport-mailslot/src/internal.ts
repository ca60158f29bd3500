/**
 * `@busway/transport-mailslot/internal`: building blocks for tests, benchmarks and sibling
 * packages. Not a stable API.
 *
 * @module
 */
export { MailslotTransport } from './MailslotTransport.js';
export type { LinkOpener } from './MailslotTransport.js';
export type { DatagramLink, LinkDatagram, LinkSendOutcome } from './DatagramLink.js';
export { MemberDirectory } from './MemberDirectory.js';
export { ReplayWindow } from './ReplayWindow.js';
export { ControlType, encodeControl, decodeControl, isControl, CONTROL_MAGIC } from './ControlDatagram.js';
export { openPosixLink } from './posix/PosixDatagramLink.js';
export { UnixDatagramSocket, socketAddress } from './posix/UnixDatagramSocket.js';
export { SlotDirectory, ensurePrivateDirectory } from './posix/SlotDirectory.js';
export { ReadinessPump } from './posix/ReadinessPump.js';
