/**
 * The Win32 {@link DatagramLink}: one mailslot per member, `\\.\mailslot\busway\<bus>\<i>`, the
 * index `i` claimed with `CreateMailslotW` (only one process can own a name). Mailslot names
 * cannot be listed, so {@link DatagramLink.scan} probes every index with `CreateFileW`: a slot
 * exists exactly as long as its owner holds it, crash or not.
 *
 * @module
 */
import { Win32Error } from '@busway/win32';
import { BusFullError } from '../errors.js';
import type { DatagramLink, LinkDatagram, LinkSendOutcome } from '../DatagramLink.js';
import type { MailslotAddress } from '../MailslotAddress.js';
import type { MailslotTransportOptions } from '../MailslotTransportOptions.js';
import { Mailslot } from './Mailslot.js';
import { kickMailslotPoller } from './MailslotPoller.js';
import { MailslotWriter } from './MailslotWriter.js';

const ERROR_FILE_NOT_FOUND = 2;
const ERROR_PATH_NOT_FOUND = 3;
const ERROR_ALREADY_EXISTS = 183;
const ERROR_INVALID_PARAMETER = 87;
/** Overlapped writes in flight per peer before `send` reports the slot full. */
const MAX_PENDING = 64;

/**
 * Claim the lowest free slot index of the bus and return the link.
 *
 * @example
 * ```ts
 * const link = await openWin32Link({ bus: 'orders', domain: false }, 42, 65536, {}, (d) => handle(d));
 * ```
 */
export function openWin32Link(
  address: MailslotAddress,
  _memberId: number,
  maxDatagramSize: number,
  options: MailslotTransportOptions,
  onDatagram: (datagram: LinkDatagram) => void,
): Promise<DatagramLink> {
  const maxMembers = options.maxMembers ?? 32;
  const base = `busway\\${address.bus}`;
  for (let index = 0; index < maxMembers; index += 1) {
    let slot: Mailslot;
    try {
      slot = Mailslot.create(`${base}\\${index}`, { maxMessageSize: maxDatagramSize });
    } catch (err) {
      // Taken by another member. (Wine has been seen to answer a taken name with
      // ERROR_INVALID_PARAMETER rather than ERROR_ALREADY_EXISTS; both mean "try the next one".)
      if (err instanceof Win32Error && (err.errno === ERROR_ALREADY_EXISTS || err.errno === ERROR_INVALID_PARAMETER))
        continue;
      return Promise.reject(err);
    }
    return Promise.resolve(
      new Win32DatagramLink(slot, base, index, maxMembers, maxDatagramSize, address.domain, onDatagram),
    );
  }
  return Promise.reject(new BusFullError(maxMembers));
}

class Win32DatagramLink implements DatagramLink {
  readonly ownKey: string;
  readonly maxDatagramSize: number;
  readonly #slot: Mailslot;
  readonly #base: string;
  readonly #maxMembers: number;
  readonly #domain: boolean;
  readonly #writers = new Map<string, MailslotWriter>();
  /** Peers whose last overlapped write failed: reported `gone` on the next send. */
  readonly #failed = new Set<string>();
  readonly #subscription: { unsubscribe(): void };

  constructor(
    slot: Mailslot,
    base: string,
    index: number,
    maxMembers: number,
    maxDatagramSize: number,
    domain: boolean,
    onDatagram: (datagram: LinkDatagram) => void,
  ) {
    this.#slot = slot;
    this.#base = base;
    this.ownKey = String(index);
    this.#maxMembers = maxMembers;
    this.maxDatagramSize = maxDatagramSize;
    this.#domain = domain;
    // The slot's limit is maxDatagramSize, so a read never needs to be cut: never truncated.
    this.#subscription = slot.messages$.subscribe({
      next: (bytes) => onDatagram({ bytes, truncated: false }),
      error: () => {},
    });
  }

  scan(): readonly string[] {
    const present: string[] = [this.ownKey];
    for (let i = 0; i < this.#maxMembers; i += 1) {
      const key = String(i);
      if (key === this.ownKey) continue;
      // Probe with a handle of its own, closed at once: the cached writer may have writes pending.
      try {
        MailslotWriter.open(this.#path(key)).close();
        present.push(key);
      } catch (err) {
        if (!isAbsent(err)) throw err;
        this.#writers.get(key)?.close();
        this.#writers.delete(key);
      }
    }
    return present;
  }

  changed(): boolean {
    // Mailslots give no cheap "something changed" signal; newcomers announce themselves (Hello).
    return false;
  }

  isPeerKey(key: string): boolean {
    return /^[0-9]{1,4}$/.test(key) && Number(key) < this.#maxMembers;
  }

  send(key: string, datagram: Uint8Array): LinkSendOutcome {
    if (this.#failed.delete(key)) return 'gone';
    let writer = this.#writers.get(key);
    try {
      if (writer === undefined) {
        writer = MailslotWriter.open(this.#path(key), { overlapped: true });
        this.#writers.set(key, writer);
      }
    } catch (err) {
      if (isAbsent(err) || err instanceof Win32Error) return 'gone';
      throw err;
    }
    // Overlapped: a slot whose queue is full (Wine blocks such a write) never blocks the loop.
    // Past MAX_PENDING the transport keeps the datagram in its backlog and retries.
    if (writer.pending >= MAX_PENDING) return 'full';
    const used = writer;
    if (this.#slot.readMode === 'polled') kickMailslotPoller();
    writer.startWrite(datagram, (error) => {
      if (error === undefined || this.#writers.get(key) !== used) return;
      // The slot went away under the write: the next send reports the member gone.
      used.close();
      this.#writers.delete(key);
      this.#failed.add(key);
    });
    return 'sent';
  }

  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.#writers.values()].some((w) => w.pending > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  forget(key: string): void {
    // Under Wine a mailslot outlives its owner while any client handle is open: let it go.
    this.#writers.get(key)?.close();
    this.#writers.delete(key);
  }

  async close(): Promise<void> {
    for (const writer of this.#writers.values()) writer.close();
    this.#writers.clear();
    this.#subscription.unsubscribe();
    await this.#slot.close();
  }

  /** Local slots are probed and written as `\\.\…`; a domain bus writes through `\\*\…`. */
  #path(key: string): string {
    return `\\\\${this.#domain ? '*' : '.'}\\mailslot\\${this.#base}\\${key}`;
  }
}

function isAbsent(err: unknown): boolean {
  return err instanceof Win32Error && (err.errno === ERROR_FILE_NOT_FOUND || err.errno === ERROR_PATH_NOT_FOUND);
}
