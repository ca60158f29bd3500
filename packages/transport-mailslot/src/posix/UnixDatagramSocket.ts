/**
 * A bound, non-blocking Unix datagram socket (`AF_UNIX`, `SOCK_DGRAM`) through koffi: the POSIX
 * counterpart of a mailslot. Node's `dgram` only speaks UDP and `net` only streams, hence koffi.
 *
 * @module
 */
import { unlinkSync } from 'node:fs';
import { FrameTooLargeError } from '@busway/core';
import { loadLibc, LinuxConstants as C, type Libc } from './libc.js';
import { ReadinessPump } from './ReadinessPump.js';
import { DatagramSocketError, InsecureSlotDirectoryError } from '../errors.js';

/** What became of one datagram handed to {@link UnixDatagramSocket.sendTo}. */
export type SendOutcome =
  /** Queued in the receiver's socket. */
  | 'sent'
  /** The receiver's queue is full (Linux allows `net.unix.max_dgram_qlen`, 10 by default): retry later. */
  | 'full'
  /** Nobody is bound at that path any more (the member closed or crashed). */
  | 'gone';

/** One received datagram; `bytes` is a view into a reused buffer, valid during the callback only. */
export interface ReceivedDatagram {
  readonly bytes: Uint8Array;
  /** The datagram was longer than the receive buffer; `bytes` holds only its start. */
  readonly truncated: boolean;
  /** The datagram's real length, even when truncated. */
  readonly length: number;
}

/**
 * Encode a `struct sockaddr_un` for `path`.
 *
 * @example
 * ```ts
 * const addr = socketAddress('/run/user/1000/busway/mailslot/orders/42.sock');
 * ```
 */
export function socketAddress(path: string): Uint8Array {
  const encoded = Buffer.from(path, 'utf8');
  if (encoded.length > C.SUN_PATH_MAX) {
    throw new InsecureSlotDirectoryError(path, `socket path is ${encoded.length} bytes, longer than ${C.SUN_PATH_MAX}`);
  }
  const addr = new Uint8Array(C.SOCKADDR_UN_SIZE);
  new DataView(addr.buffer).setUint16(0, C.AF_UNIX, true);
  addr.set(encoded, 2);
  return addr;
}

/**
 * A datagram socket bound to a path. Received datagrams are delivered on the event loop, drained
 * by batches whenever the process-wide {@link ReadinessPump} sees data.
 *
 * @example
 * ```ts
 * const socket = UnixDatagramSocket.bind('/tmp/busway-1000/x.sock', 65536, (d) => console.log(d.length));
 * socket.sendTo(socketAddress('/tmp/busway-1000/y.sock'), new Uint8Array([1, 2, 3]));
 * await socket.close();
 * ```
 */
export class UnixDatagramSocket {
  /**
   * Create a socket, bind it to `path` (which must not exist) and start receiving.
   *
   * @param maxDatagramSize - largest datagram accepted whole; longer ones arrive `truncated`.
   */
  static bind(
    path: string,
    maxDatagramSize: number,
    onDatagram: (datagram: ReceivedDatagram) => void,
  ): UnixDatagramSocket {
    const libc = loadLibc();
    const fd = libc.socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    if (fd < 0) throw new DatagramSocketError('socket', libc.errno());
    const addr = socketAddress(path);
    if (libc.bind(fd, addr, addr.length) !== 0) {
      const errno = libc.errno();
      libc.close(fd);
      throw new DatagramSocketError('bind', errno, path);
    }
    // The send buffer bounds the largest datagram a Unix socket accepts; make room for a few.
    const size = new Int32Array([Math.max(4 * maxDatagramSize, 212_992)]);
    libc.setsockopt(fd, C.SOL_SOCKET, C.SO_SNDBUF, size, 4);
    libc.setsockopt(fd, C.SOL_SOCKET, C.SO_RCVBUF, size, 4);
    return new UnixDatagramSocket(libc, fd, path, maxDatagramSize, onDatagram);
  }

  readonly path: string;
  readonly #libc: Libc;
  readonly #fd: number;
  readonly #buffer: Uint8Array;
  readonly #onDatagram: (datagram: ReceivedDatagram) => void;
  readonly #unwatch: () => Promise<void>;
  #closed: Promise<void> | undefined;

  private constructor(
    libc: Libc,
    fd: number,
    path: string,
    maxDatagramSize: number,
    onDatagram: (d: ReceivedDatagram) => void,
  ) {
    this.#libc = libc;
    this.#fd = fd;
    this.path = path;
    // One byte more than allowed, so that MSG_TRUNC's true length tells oversize from exact fit.
    this.#buffer = new Uint8Array(maxDatagramSize + 1);
    this.#onDatagram = onDatagram;
    this.#unwatch = ReadinessPump.shared().watch(fd, () => this.#drain());
  }

  /**
   * Send one datagram to the socket bound at `address` without ever blocking.
   * Throws {@link FrameTooLargeError} when the kernel refuses the size.
   */
  sendTo(address: Uint8Array, bytes: Uint8Array): SendOutcome {
    if (this.#closed !== undefined) return 'gone';
    const n = this.#libc.sendto(this.#fd, bytes, bytes.length, C.MSG_DONTWAIT, address, address.length);
    if (n >= 0) return 'sent';
    const errno = this.#libc.errno();
    if (errno === C.EAGAIN || errno === C.ENOBUFS) return 'full';
    if (errno === C.ECONNREFUSED || errno === C.ENOENT) return 'gone';
    if (errno === C.EMSGSIZE) throw new FrameTooLargeError(bytes.length, this.#buffer.length - 1);
    throw new DatagramSocketError('sendto', errno);
  }

  /** Stop receiving, close the descriptor and remove the socket file. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#unwatch().then(() => {
      this.#libc.close(this.#fd);
      try {
        unlinkSync(this.path);
      } catch {
        // Already removed (by a peer that found it stale, or by a test): nothing to release.
      }
    });
    return this.#closed;
  }

  #drain(): void {
    // Bounded batch: a flooding peer cannot starve timers and other sockets; the pump calls again.
    for (let i = 0; i < 256 && this.#closed === undefined; i += 1) {
      const n = this.#libc.recv(this.#fd, this.#buffer, this.#buffer.length, C.MSG_DONTWAIT | C.MSG_TRUNC);
      if (n < 0) {
        // EAGAIN: drained. Anything else on an unconnected datagram socket is transient; this
        // runs on the pump's callback, where a throw would take the whole process down.
        return;
      }
      const max = this.#buffer.length - 1;
      const truncated = n > max;
      this.#onDatagram({ bytes: this.#buffer.subarray(0, truncated ? max : n), truncated, length: n });
    }
  }
}
