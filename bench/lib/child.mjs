/**
 * Runs the far end of a peer benchmark in a child process, so that sender and receiver do not
 * share an event loop (as two members of a bus would not).
 *
 * @module
 */
import { fork } from 'node:child_process';

/**
 * Fork `script` with `args` and wait for it to report `{ type: 'listening', address }` over IPC.
 * The returned handle waits for further messages by type and stops the child.
 *
 * @example
 * const peer = await startChild(new URL('./net-child.mjs', import.meta.url), ['sink', address]);
 * const { count } = await peer.next('done');
 * await peer.stop();
 */
export async function startChild(script, args) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  const queued = [];
  let failure;
  const fail = (err) => {
    failure = err;
    for (const { reject } of waiting.values()) reject(err);
    waiting.clear();
  };
  child.on('message', (msg) => {
    const w = waiting.get(msg.type);
    if (w) {
      waiting.delete(msg.type);
      w.resolve(msg);
    } else queued.push(msg);
  });
  child.on('error', fail);
  child.on('exit', (code, signal) => fail(new Error(`peer ${args.join(' ')} exited (${code ?? signal})`)));
  const next = (type) => {
    const i = queued.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(queued.splice(i, 1)[0]);
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => waiting.set(type, { resolve, reject }));
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const { address } = await next('listening');
    return { address, next, stop, child };
  } catch (err) {
    await stop();
    throw err;
  }
}
