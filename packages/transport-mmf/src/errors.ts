/**
 * Errors of the shared-memory transport. Each extends `BuswayError` with a stable `code`.
 *
 * @module
 */
import { BuswayError, type BuswayErrorOptions } from '@busway/core';

/**
 * A mapping of the requested name exists but is not a busway ring of this version and size: wrong
 * magic, version, capacity or header size. Nothing was written into it. Typically another program
 * uses the name (squatting), or members disagree on `size`.
 *
 * @example
 * ```ts
 * try { await bus.open(); } catch (err) {
 *   if (err instanceof RingMismatchError) console.error(`pick another name: ${err.message}`);
 * }
 * ```
 */
export class RingMismatchError extends BuswayError {
  /** The mapping's name. */
  readonly ringName: string;

  constructor(ringName: string, reason: string, options?: BuswayErrorOptions) {
    super('RING_MISMATCH', `shared memory "${ringName}" is not a compatible busway ring: ${reason}`, options);
    this.name = 'RingMismatchError';
    this.ringName = ringName;
  }
}

/**
 * The writer took longer between claiming space and committing than readers wait
 * (`abandonAfterMs`); a reader declared the claim abandoned, so the record will never be
 * delivered. Raised by the publish that was too slow; the frame was not sent.
 *
 * @example
 * ```ts
 * try { ring.publish(bytes); } catch (err) {
 *   if (err instanceof ClaimAbandonedError) ring.publish(bytes); // retry once
 * }
 * ```
 */
export class ClaimAbandonedError extends BuswayError {
  /** Sequence number of the abandoned record. */
  readonly sequence: number;

  constructor(sequence: number, options?: BuswayErrorOptions) {
    super(
      'CLAIM_ABANDONED',
      `record ${sequence} was declared abandoned by a reader before it was committed; it was not sent`,
      options,
    );
    this.name = 'ClaimAbandonedError';
    this.sequence = sequence;
  }
}

/**
 * An operating-system call on shared memory failed (`shm_open`, `mmap`, `CreateFileMappingW`…).
 *
 * @example
 * ```ts
 * if (err instanceof SharedMemoryError && err.errno === 13) console.error('permission denied');
 * ```
 */
export class SharedMemoryError extends BuswayError {
  /** The call that failed. */
  readonly syscall: string;
  /** `errno` on POSIX, `GetLastError()` on Win32. */
  readonly errno: number;

  constructor(syscall: string, errno: number, detail: string, options?: BuswayErrorOptions) {
    super('SHARED_MEMORY', `${syscall} failed (${errno}): ${detail}`, options);
    this.name = 'SharedMemoryError';
    this.syscall = syscall;
    this.errno = errno;
  }
}
