/**
 * Child side of the raw `net` peer: listens on the address in argv and either counts
 * length-prefixed messages (`sink`) or sends each one back (`echo`). A zero-length message ends a
 * sink run: the child reports `{ type: 'done', count }` to its parent.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';

const [mode, address] = process.argv.slice(2);
const url = new URL(address);
const server = net.createServer({ noDelay: true }, (socket) => {
  let carry = Buffer.alloc(0);
  let count = 0;
  socket.on('data', (chunk) => {
    // The plainest correct parser: join with the leftover, walk the prefixes, keep the tail.
    let buf = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (buf.length - at - 4 < length) break;
      if (mode === 'echo') {
        socket.write(buf.subarray(at, at + 4 + length));
      } else if (length === 0) {
        process.send({ type: 'done', count });
        count = 0;
      } else {
        count += 1;
      }
      at += 4 + length;
    }
    carry = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    buf = undefined;
  });
  socket.on('error', () => undefined);
});

if (url.protocol === 'tcp:') {
  server.listen(Number(url.port), url.hostname, () => {
    const { port } = server.address();
    process.send({ type: 'listening', address: `tcp://${url.hostname}:${port}` });
  });
} else {
  const path = process.platform === 'win32' ? `\\\\.\\pipe\\${url.pathname.replace(/[\\/:]/g, '-')}` : url.pathname;
  if (process.platform !== 'win32') rmSync(path, { force: true });
  server.listen(path, () => process.send({ type: 'listening', address }));
  process.on('exit', () => process.platform !== 'win32' && rmSync(path, { force: true }));
}
// Never outlive the harness: if the parent dies, the IPC channel closes.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
process.on('SIGTERM', () => process.exit(0));
