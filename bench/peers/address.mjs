/**
 * Fresh addresses for benchmark peers. Every address is a URL string: `tcp://host:port`
 * (port 0: the listener picks one and reports it) or `ipc://path` (a Unix socket; on Windows the
 * `net` peer maps it to a named pipe).
 *
 * @module
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let counter = 0;

/**
 * A loopback TCP address on a port the listener picks.
 *
 * @example
 * await netThroughput(tcpAddress());
 */
export function tcpAddress() {
  return 'tcp://127.0.0.1:0';
}

/**
 * A local-socket address unique to this process and call.
 *
 * @example
 * await zmqRoundTrip(ipcAddress('rr'));
 */
export function ipcAddress(tag = 'peer') {
  counter += 1;
  return `ipc://${join(tmpdir(), `busway-bench-${process.pid}-${tag}-${counter}.sock`)}`;
}
