/**
 * Hands a connected pipe handle to libuv, so that Node's own stream code reads and writes it.
 *
 * Why: busway creates and opens its pipes itself (a DACL, `FILE_FLAG_FIRST_PIPE_INSTANCE`,
 * `PIPE_REJECT_REMOTE_CLIENTS`, the server's process id: nothing `net` offers), but once a pipe is
 * connected, moving bytes is what libuv does best. Its reads and writes complete on the completion
 * port that the event loop itself waits on, while ours complete on a koffi worker thread and then
 * hop to the loop: under Wine the hop made a busway pipe carry a quarter of what `net` carried
 * over the same kind of pipe. busway calls through koffi where Node.js has no API; for moving the
 * bytes of a connected pipe it has one. The I/O stays overlapped on a completion port, libuv's, so
 * no call blocks the loop and no thread is held per pipe (libuv reads overlapped pipes without
 * threads; only a pipe opened without `FILE_FLAG_OVERLAPPED` would cost it one, and busway never
 * opens one so).
 *
 * How: `uv_open_osfhandle` (exported by `node.exe`, as all of libuv's API is for addons) gives the
 * handle a C runtime file descriptor, and `new net.Socket({ fd })` opens a libuv pipe on it, which
 * associates the handle with the loop's completion port. A handle can join only one completion
 * port for its whole life, so a handle meant for this must never have been given to a busway
 * `CompletionPort` (libuv would fall back to emulating one, much more slowly).
 *
 * @module
 */
import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import { loadKoffi } from './koffi-loader.js';
import type { Win32Handle } from './handle.js';
import type { HandleValue } from './kernel32.js';
import { ConfigurationError } from '@busway/core';
import { assertWindows } from './platform-error.js';
import { Win32Error } from './win32-error.js';

type OpenOsfhandle = (handle: HandleValue) => number;

/** `undefined`: not looked up yet; `null`: this Node.js does not export it. */
let openOsfhandle: OpenOsfhandle | null | undefined;

function bindOpenOsfhandle(): OpenOsfhandle | null {
  if (openOsfhandle !== undefined) return openOsfhandle;
  try {
    // LoadLibrary of the running executable returns its module: nothing is loaded twice.
    const node = loadKoffi().load(process.execPath);
    openOsfhandle = node.func('uv_open_osfhandle', 'int', ['intptr_t']) as OpenOsfhandle;
  } catch {
    // A Node.js built as a DLL (or an embedder) may export libuv from another module.
    openOsfhandle = null;
  }
  return openOsfhandle;
}

/**
 * Whether this Node.js can take a pipe handle over ({@link openPipeSocket}): true for the official
 * Windows builds, which export libuv's API; false elsewhere, and on Linux and macOS.
 *
 * @example
 * ```ts
 * const link = canOpenPipeSockets() ? new StreamFrameLink(openPipeSocket(handle)) : fallback(handle);
 * ```
 */
export function canOpenPipeSockets(): boolean {
  return process.platform === 'win32' && bindOpenOsfhandle() !== null;
}

/**
 * A `net.Socket` over a connected pipe handle (server instance or client end, byte mode,
 * overlapped, never associated with a completion port). Takes ownership: `handle` is released,
 * and the socket closes the pipe when destroyed. Throws `PlatformError` off Windows,
 * `ConfigurationError` where libuv's `uv_open_osfhandle` is not available (see {@link canOpenPipeSockets}), and `Win32Error` when no
 * file descriptor can be had for the handle; the handle is left to the caller then.
 *
 * `onread` is `net.Socket`'s option of that name: reads go into its one buffer and to its
 * callback, not to `'data'`. The socket starts reading at once, so set up the consumer first
 * (core's `SocketReadBuffer` holds what comes before it has one).
 *
 * @example
 * ```ts
 * const socket = openPipeSocket(openNamedPipe('orders', { messageMode: false }));
 * socket.on('data', (chunk) => console.log(chunk.length));
 * socket.write('hello');
 * ```
 */
export function openPipeSocket(handle: Win32Handle, onread?: OnReadOpts): Socket {
  assertWindows('openPipeSocket');
  const open = bindOpenOsfhandle();
  if (open === null) {
    throw new ConfigurationError(
      `this Node.js (${process.execPath}) does not export libuv's uv_open_osfhandle, so a pipe handle cannot be given to net.Socket`,
    );
  }
  const fd = open(handle.value);
  // The C runtime's _open_osfhandle fails for a bad handle or a full descriptor table (EMFILE).
  if (fd < 0) throw new Win32Error('uv_open_osfhandle', 4 /* ERROR_TOO_MANY_OPEN_FILES */, handle.name);
  handle.release();
  // `new net.Socket` takes `onread` (Node documents it there), though `@types/node` 20 declares it
  // only for `net.connect`: hence the wider type.
  const options: SocketConstructorOpts & { onread?: OnReadOpts } = { fd, readable: true, writable: true };
  if (onread !== undefined) options.onread = onread;
  return new Socket(options);
}
