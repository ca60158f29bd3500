/**
 * Child side of the zeromq.js peer: binds a PULL socket that counts messages (`sink`; an empty
 * message ends a run and reports `{ type: 'done', count }`) or a REP socket that sends every
 * request back (`echo`).
 */
import { rmSync } from 'node:fs';
import * as zmq from 'zeromq';

const [mode, address] = process.argv.slice(2);
// zeromq picks a free port for `*`; `tcp://host:0` is how the other peers spell it.
const bindTo = address.replace(/^(tcp:\/\/[^:]+):0$/, '$1:*');
const path = address.startsWith('ipc://') ? address.slice('ipc://'.length) : undefined;
if (path) rmSync(path, { force: true });
// Never outlive the harness: if the parent dies, the IPC channel closes.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
process.on('SIGTERM', () => {
  if (path) rmSync(path, { force: true });
  process.exit(0);
});

if (mode === 'echo') {
  const sock = new zmq.Reply();
  await sock.bind(bindTo);
  process.send({ type: 'listening', address: sock.lastEndpoint });
  for await (const [msg] of sock) await sock.send(msg);
} else {
  const sock = new zmq.Pull();
  await sock.bind(bindTo);
  process.send({ type: 'listening', address: sock.lastEndpoint });
  let count = 0;
  for await (const [msg] of sock) {
    if (msg.length === 0) {
      process.send({ type: 'done', count });
      count = 0;
    } else count += 1;
  }
}
