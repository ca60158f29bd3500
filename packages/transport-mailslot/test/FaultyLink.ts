/**
 * A DatagramLink decorator for tests: drops, duplicates (through the same slot, or through a
 * second socket: "two paths", as a mailslot delivers once per network protocol), reorders, and taps
 * the envelope datagrams a member writes. Membership datagrams pass untouched, so faults hit only
 * what core must make up for.
 */
import { join } from 'node:path';
import type { DatagramLink, LinkSendOutcome } from '../src/DatagramLink.js';
import { socketAddress, UnixDatagramSocket } from '../src/posix/UnixDatagramSocket.js';

/** Decides per envelope datagram (its body before the auth trailer starts with "BW"). */
export type DatagramRule = (datagram: Uint8Array) => boolean;

export interface LinkFaults {
  drop?: DatagramRule;
  duplicate?: DatagramRule;
  /** Send a copy through a second socket as well. */
  secondPath?: DatagramRule;
  /** Hold back, send after the next envelope datagram to the same peer. */
  reorder?: DatagramRule;
  /** Counts the extra copies the kernel accepted (what the receiver must suppress). */
  copies?: { count: number };
  /** Sees every envelope datagram sent. */
  tap?: (datagram: Uint8Array) => void;
}

const isEnvelope = (d: Uint8Array): boolean => d[0] === 0x42 && d[1] === 0x57;

export function faultyLink(inner: DatagramLink, faults: LinkFaults, slotDir: string): DatagramLink {
  const held = new Map<string, Uint8Array>();
  let second: UnixDatagramSocket | undefined;
  return {
    ownKey: inner.ownKey,
    maxDatagramSize: inner.maxDatagramSize,
    scan: () => inner.scan(),
    changed: () => inner.changed(),
    isPeerKey: (key) => inner.isPeerKey(key),
    flush: (timeoutMs) => inner.flush(timeoutMs),
    forget: (key) => inner.forget(key),
    send(key, datagram): LinkSendOutcome {
      if (!isEnvelope(datagram)) return inner.send(key, datagram);
      faults.tap?.(datagram);
      if (faults.drop?.(datagram) === true) return 'sent';
      if (faults.reorder?.(datagram) === true && !held.has(key)) {
        held.set(key, datagram);
        return 'sent';
      }
      const outcome = inner.send(key, datagram);
      // Not taken: the transport queues it and offers it again later, faults and all.
      if (outcome !== 'sent') return outcome;
      if (faults.duplicate?.(datagram) === true && inner.send(key, datagram) === 'sent' && faults.copies)
        faults.copies.count += 1;
      if (faults.secondPath?.(datagram) === true) {
        second ??= UnixDatagramSocket.bind(join(slotDir, `second-path-${inner.ownKey}`), 65536, () => {});
        if (second.sendTo(socketAddress(join(slotDir, key)), datagram) === 'sent' && faults.copies)
          faults.copies.count += 1;
      }
      const late = held.get(key);
      // A held datagram that does not fit now stays held for the next one.
      if (late !== undefined && inner.send(key, late) === 'sent') held.delete(key);
      return outcome;
    },
    async close() {
      await second?.close();
      await inner.close();
    },
  };
}
