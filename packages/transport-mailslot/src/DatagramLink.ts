/**
 * The platform half of the mailslot transport: a member's own slot (receiving) and writes to the
 * slots of the others. `MailslotTransport` holds everything else (membership, authentication,
 * backlog, checks), so the same logic runs, and is tested, on every platform.
 *
 * @module
 */

/** What became of one datagram written to a peer's slot. */
export type LinkSendOutcome =
  /** Queued in the peer's slot. */
  | 'sent'
  /** The peer's queue is full right now: retry later. */
  | 'full'
  /** The peer's slot no longer exists: the member is gone. */
  | 'gone';

/** One datagram read from the member's own slot. */
export interface LinkDatagram {
  /** The bytes; a view valid only during the callback. */
  readonly bytes: Uint8Array;
  /** The datagram did not fit the receive buffer and was cut: it must be dropped. */
  readonly truncated: boolean;
}

/**
 * A member's slot plus the means to reach the other slots of the same bus.
 *
 * @example
 * ```ts
 * const link = await openPosixLink({ bus: 'orders', domain: false }, memberId, 65536, undefined, onDatagram);
 * for (const key of link.scan()) if (key !== link.ownKey) link.send(key, datagram);
 * ```
 */
export interface DatagramLink {
  /** This member's slot key, as peers see it in {@link DatagramLink.scan}. */
  readonly ownKey: string;
  /** Largest datagram carried whole. */
  readonly maxDatagramSize: number;
  /**
   * Keys of the slots that exist right now, own included. A slot that is not listed is gone:
   * that is how departures of crashed members are noticed.
   */
  scan(): readonly string[];
  /**
   * Whether the set of slots may have changed since the last {@link DatagramLink.scan}; cheap
   * enough to ask before every send.
   */
  changed(): boolean;
  /** Whether `key` has the shape of a peer slot key (keys arrive in datagrams: never trust them). */
  isPeerKey(key: string): boolean;
  /** Write one datagram to the slot `key`, never blocking. */
  send(key: string, datagram: Uint8Array): LinkSendOutcome;
  /**
   * Call `ready` once when the slot `key`, found full, has room again; links that cannot tell
   * leave this out and the transport retries on a timer.
   */
  whenWritable?(key: string, ready: () => void): void;
  /** Wait (at most `timeoutMs`) until every datagram handed to `send` has left this process. */
  flush(timeoutMs: number): Promise<void>;
  /** Drop whatever is held open towards `key` (a member found gone). */
  forget(key: string): void;
  /** Release the slot and every handle. Idempotent. */
  close(): Promise<void>;
}
