/**
 * One `poll(2)` for every datagram socket of the process, run on a koffi worker thread, so that
 * waiting for datagrams never blocks the event loop and costs one worker thread in total (not one
 * per socket: libuv's pool has only four by default and `fs`/`dns` share it).
 *
 * @module
 */
import { loadLibc, LinuxConstants as C, type Libc } from './libc.js';
import { DatagramSocketError } from '../errors.js';

interface Watch {
  readonly fd: number;
  /** `POLLIN` (data to read) or `POLLOUT` (room to write). */
  readonly events: number;
  readonly onReady: () => void;
}

/**
 * Calls `onReadable` on the event loop whenever a watched descriptor has data. A self-pipe wakes
 * the pending `poll` when the set of descriptors changes, so a new socket is watched at once and
 * the last unwatch lets the process exit (a pending async call keeps the loop alive).
 *
 * @example
 * ```ts
 * const stop = ReadinessPump.shared().watch(fd, () => drain(fd));
 * // later
 * await stop();
 * libc.close(fd); // only now: the worker no longer polls it
 * ```
 */
export class ReadinessPump {
  static #shared: ReadinessPump | undefined;

  /** The process-wide pump. */
  static shared(): ReadinessPump {
    ReadinessPump.#shared ??= new ReadinessPump(loadLibc());
    return ReadinessPump.#shared;
  }

  readonly #libc: Libc;
  readonly #watches = new Map<number, Watch>();
  #wakeRead = -1;
  #wakeWrite = -1;
  #polling = false;
  /** Resolvers waiting for the in-flight poll to return (descriptors they may now close). */
  #settled: (() => void)[] = [];
  readonly #wakeByte = new Uint8Array(1);
  readonly #drainBuffer = new Uint8Array(64);

  constructor(libc: Libc) {
    this.#libc = libc;
  }

  /**
   * Watch `fd` for readability (or, with `events` = `POLLOUT`, for room to write). Returns a
   * function that stops watching and resolves once no worker thread still polls `fd`, after which
   * the caller may close it (closing earlier could let the worker poll a reused descriptor number).
   */
  watch(fd: number, onReady: () => void, events: number = C.POLLIN): () => Promise<void> {
    this.#ensureWakePipe();
    this.#watches.set(fd, { fd, events, onReady });
    if (this.#polling) this.#wake();
    else this.#arm();
    return () => {
      this.#watches.delete(fd);
      if (!this.#polling) return Promise.resolve();
      return new Promise<void>((resolve) => {
        this.#settled.push(resolve);
        this.#wake();
      });
    };
  }

  #ensureWakePipe(): void {
    if (this.#wakeRead >= 0) return;
    const fds = new Int32Array(2);
    if (this.#libc.pipe2(fds, C.O_NONBLOCK | C.O_CLOEXEC) !== 0)
      throw new DatagramSocketError('pipe2', this.#libc.errno());
    this.#wakeRead = fds[0] as number;
    this.#wakeWrite = fds[1] as number;
  }

  #wake(): void {
    // Non-blocking: if the pipe is already full a wake-up is pending anyway.
    this.#libc.write(this.#wakeWrite, this.#wakeByte, 1);
  }

  #arm(): void {
    if (this.#watches.size === 0) {
      this.#polling = false;
      return;
    }
    const watches = [...this.#watches.values()];
    // struct pollfd { int fd; short events; short revents; }: 8 bytes each; slot 0 is the wake pipe.
    const fds = new Uint8Array(8 * (watches.length + 1));
    const view = new DataView(fds.buffer);
    view.setInt32(0, this.#wakeRead, true);
    view.setInt16(4, C.POLLIN, true);
    watches.forEach((w, i) => {
      view.setInt32(8 * (i + 1), w.fd, true);
      view.setInt16(8 * (i + 1) + 4, w.events, true);
    });
    this.#polling = true;
    this.#libc.pollAsync(fds, watches.length + 1, -1, (err, result) => {
      this.#polling = false;
      const settled = this.#settled;
      this.#settled = [];
      for (const resolve of settled) resolve();
      if (err !== null && err !== undefined) {
        // koffi could not run the call (its async queue is full): try again on the next turn.
        setImmediate(() => {
          if (!this.#polling) this.#arm();
        });
        return;
      }
      if (result > 0) {
        if (view.getInt16(6, true) !== 0) while (this.#libc.read(this.#wakeRead, this.#drainBuffer, 64) > 0);
        watches.forEach((w, i) => {
          const revents = view.getInt16(8 * (i + 1) + 6, true);
          // Still watched? An unwatch during the poll must not deliver to a closed socket.
          if (revents !== 0 && this.#watches.get(w.fd) === w) w.onReady();
        });
      }
      if (!this.#polling) this.#arm();
    });
  }
}
