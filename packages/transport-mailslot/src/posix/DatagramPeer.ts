/**
 * A datagram socket connected to one peer's socket, used to send to it. Connecting buys what an
 * unconnected `sendto` cannot give: `poll(POLLOUT)` on a connected Unix datagram socket reports
 * when the *peer's* receive queue has room again (Linux `unix_dgram_poll`), so a sender whose peer
 * was full resumes as soon as the peer reads, instead of retrying on a timer.
 *
 * @module
 */
import { FrameTooLargeError } from '@busway/core';
import { DatagramSocketError } from '../errors.js';
import { LinuxConstants as C, loadLibc, type Libc } from './libc.js';
import { ReadinessPump } from './ReadinessPump.js';
import type { SendOutcome } from './UnixDatagramSocket.js';
import { socketAddress } from './UnixDatagramSocket.js';

/**
 * @example
 * ```ts
 * const peer = DatagramPeer.connect('/run/user/1000/busway-1000/mailslot/orders/42.sock');
 * if (peer !== undefined && peer.send(frame) === 'full') peer.whenWritable(() => retry());
 * await peer?.close();
 * ```
 */
export class DatagramPeer {
  /** Connect to the socket bound at `path`; `undefined` when nobody is bound there. */
  static connect(path: string): DatagramPeer | undefined {
    const libc = loadLibc();
    const fd = libc.socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    if (fd < 0) throw new DatagramSocketError('socket', libc.errno());
    const address = socketAddress(path);
    if (libc.connect(fd, address, address.length) !== 0) {
      const errno = libc.errno();
      libc.close(fd);
      if (errno === C.ECONNREFUSED || errno === C.ENOENT) return undefined;
      throw new DatagramSocketError('connect', errno, path);
    }
    return new DatagramPeer(libc, fd);
  }

  readonly #libc: Libc;
  readonly #fd: number;
  #stopWatch: (() => Promise<void>) | undefined;
  #closed: Promise<void> | undefined;

  private constructor(libc: Libc, fd: number) {
    this.#libc = libc;
    this.#fd = fd;
  }

  /** Send one datagram, never blocking. Throws `FrameTooLargeError` when the kernel refuses its size. */
  send(bytes: Uint8Array): SendOutcome {
    if (this.#closed !== undefined) return 'gone';
    if (this.#libc.send(this.#fd, bytes, bytes.length, C.MSG_DONTWAIT) >= 0) return 'sent';
    const errno = this.#libc.errno();
    if (errno === C.EAGAIN || errno === C.ENOBUFS) return 'full';
    if (errno === C.ECONNREFUSED || errno === C.ENOENT) return 'gone';
    if (errno === C.EMSGSIZE) throw new FrameTooLargeError(bytes.length, bytes.length - 1);
    throw new DatagramSocketError('send', errno);
  }

  /** Call `ready` once (on the event loop) when the peer's queue has room. Idempotent while pending. */
  whenWritable(ready: () => void): void {
    if (this.#stopWatch !== undefined || this.#closed !== undefined) return;
    this.#stopWatch = ReadinessPump.shared().watch(
      this.#fd,
      () => {
        const stop = this.#stopWatch;
        this.#stopWatch = undefined;
        void stop?.();
        ready();
      },
      C.POLLOUT,
    );
  }

  /** Close the socket, once no worker thread polls it. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const stop = this.#stopWatch;
      this.#stopWatch = undefined;
      if (stop !== undefined) await stop();
      this.#libc.close(this.#fd);
    })();
    return this.#closed;
  }
}
