/**
 * Failures specific to the mailslot transport. Each extends `BuswayError` from `@busway/core` with
 * a stable `code`; bad URLs and options reuse core's `ConfigurationError`, oversized frames core's
 * `FrameTooLargeError`.
 *
 * @module
 */
import { BuswayError, type BuswayErrorOptions } from '@busway/core';

/**
 * The directory meant to hold the bus's datagram sockets is not private to the current user (wrong
 * owner, group/other permission bits, or not a real directory). Busway refuses it rather than
 * repairing it, because whatever is already inside may have been planted by someone else.
 *
 * @example
 * ```ts
 * try {
 *   await createBus('mailslot://orders');
 * } catch (err) {
 *   if (err instanceof InsecureSlotDirectoryError) console.error(`fix ${err.path}`);
 * }
 * ```
 */
export class InsecureSlotDirectoryError extends BuswayError {
  /** The directory that was rejected. */
  readonly path: string;

  constructor(path: string, reason: string, options?: BuswayErrorOptions) {
    super('INSECURE_SLOT_DIRECTORY', `refusing to use ${path} for mailslot sockets: ${reason}`, options);
    this.name = 'InsecureSlotDirectoryError';
    this.path = path;
  }
}

/**
 * A system call of the POSIX datagram backend failed. `errno` is the C `errno` value and
 * `syscall` the call that failed, the way Node's own system errors report them.
 *
 * @example
 * ```ts
 * try {
 *   socket.bind(path);
 * } catch (err) {
 *   if (err instanceof DatagramSocketError && err.errno === 98) console.error('name in use');
 * }
 * ```
 */
export class DatagramSocketError extends BuswayError {
  /** The C `errno` value. */
  readonly errno: number;
  /** The failing system call, for example `bind`. */
  readonly syscall: string;

  constructor(syscall: string, errno: number, detail?: string, options?: BuswayErrorOptions) {
    super(
      'DATAGRAM_SOCKET',
      `${syscall} failed with errno ${errno}${detail === undefined ? '' : ` (${detail})`}`,
      options,
    );
    this.name = 'DatagramSocketError';
    this.errno = errno;
    this.syscall = syscall;
  }
}

/**
 * Every member slot name of a bus is taken: the bus already has `maxMembers` members on this
 * machine (Win32, where slots are claimed by index).
 *
 * @example
 * ```ts
 * try {
 *   await createBus('mailslot://orders', { transportOptions: { maxMembers: 8 } });
 * } catch (err) {
 *   if (err instanceof BusFullError) console.error(`${err.maxMembers} members already`);
 * }
 * ```
 */
export class BusFullError extends BuswayError {
  /** The member limit that was reached. */
  readonly maxMembers: number;

  constructor(maxMembers: number, options?: BuswayErrorOptions) {
    super('BUS_FULL', `all ${maxMembers} member slots of the bus are taken`, options);
    this.name = 'BusFullError';
    this.maxMembers = maxMembers;
  }
}
