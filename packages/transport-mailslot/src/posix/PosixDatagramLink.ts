/**
 * The POSIX {@link DatagramLink}: one Unix datagram socket per member, `<memberId>.sock` in the
 * bus's private directory. The directory listing is the member list; a socket whose owner died
 * answers `ECONNREFUSED` and is removed by whoever finds it.
 *
 * @module
 */
import { statSync, unlinkSync } from 'node:fs';
import type { DatagramLink, LinkDatagram, LinkSendOutcome } from '../DatagramLink.js';
import type { MailslotAddress } from '../MailslotAddress.js';
import { SlotDirectory } from './SlotDirectory.js';
import { DatagramPeer } from './DatagramPeer.js';
import { UnixDatagramSocket } from './UnixDatagramSocket.js';

const PEER_KEY = /^[0-9]{1,16}\.sock$/;

/**
 * Bind this member's socket and return the link.
 *
 * @param base - parent of the private `busway-<uid>` directory (see {@link SlotDirectory.open}).
 * @example
 * ```ts
 * const link = openPosixLink({ bus: 'orders', domain: false }, 42, 65536, undefined, (d) => handle(d));
 * ```
 */
export function openPosixLink(
  address: MailslotAddress,
  memberId: number,
  maxDatagramSize: number,
  base: string | undefined,
  onDatagram: (datagram: LinkDatagram) => void,
): DatagramLink {
  const directory = SlotDirectory.open(address.bus, base);
  const ownKey = `${memberId}.sock`;
  const socket = UnixDatagramSocket.bind(directory.slotPath(ownKey), maxDatagramSize, onDatagram);
  return new PosixDatagramLink(directory, socket, ownKey, maxDatagramSize);
}

class PosixDatagramLink implements DatagramLink {
  readonly ownKey: string;
  readonly maxDatagramSize: number;
  readonly #directory: SlotDirectory;
  readonly #socket: UnixDatagramSocket;
  readonly #peers = new Map<string, DatagramPeer>();
  #mtime = -1n;

  constructor(directory: SlotDirectory, socket: UnixDatagramSocket, ownKey: string, maxDatagramSize: number) {
    this.#directory = directory;
    this.#socket = socket;
    this.ownKey = ownKey;
    this.maxDatagramSize = maxDatagramSize;
  }

  scan(): readonly string[] {
    this.#mtime = this.#readMtime();
    return this.#directory.list().filter((key) => PEER_KEY.test(key));
  }

  changed(): boolean {
    return this.#readMtime() !== this.#mtime;
  }

  isPeerKey(key: string): boolean {
    return PEER_KEY.test(key);
  }

  send(key: string, datagram: Uint8Array): LinkSendOutcome {
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = DatagramPeer.connect(this.#directory.slotPath(key));
      if (peer === undefined) return this.#gone(key);
      this.#peers.set(key, peer);
    }
    const outcome = peer.send(datagram);
    return outcome === 'gone' ? this.#gone(key) : outcome;
  }

  whenWritable(key: string, ready: () => void): void {
    this.#peers.get(key)?.whenWritable(ready);
  }

  /** A socket file nobody is bound to: its member crashed. Remove it so nobody waits on it. */
  #gone(key: string): 'gone' {
    this.forget(key);
    try {
      unlinkSync(this.#directory.slotPath(key));
    } catch {
      // Already gone.
    }
    return 'gone';
  }

  flush(): Promise<void> {
    // sendto() has handed the datagram to the kernel by the time it returns.
    return Promise.resolve();
  }

  forget(key: string): void {
    void this.#peers.get(key)?.close();
    this.#peers.delete(key);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#peers.values()].map((peer) => peer.close()));
    this.#peers.clear();
    await this.#socket.close();
  }

  #readMtime(): bigint {
    try {
      return statSync(this.#directory.path, { bigint: true }).mtimeNs;
    } catch {
      return -2n;
    }
  }
}
