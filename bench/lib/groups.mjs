/**
 * The comparison groups of the benchmark. Scenarios of one group run in the same `pnpm bench`
 * and the table shows each against the group's baseline. A transport adds its own scenario to
 * an existing group (for example `group: 'tcp-one-way'` beside the raw `net` and zeromq peers)
 * so that its figure is read as a ratio taken on this machine at this moment.
 *
 * @module
 */

/** Group key → title, the name of the baseline scenario, and what "better" means. */
export const GROUPS = {
  'frame-decoder': {
    title: 'FrameDecoder, 64 KiB frames',
    baseline: 'memcpy into 64 KiB frames',
    better: 'throughput',
  },
  'envelope-codec': {
    title: 'envelope codec, 64-byte payload on a 12-byte topic (per frame, one core)',
    baseline: 'allocate + copy the frame',
    better: 'throughput',
  },
  'dedup-window': {
    title: 'duplicate suppression per received frame',
    baseline: 'Set of "origin:sequence" strings',
    better: 'throughput',
  },
  'memory-publish': {
    title: 'memory:// publish → subscriber, 64-byte msgpack',
    baseline: 'rxjs Subject + msgpackr',
    better: 'throughput',
  },
  'memory-request': {
    title: 'memory:// request → reply round trip',
    baseline: 'rxjs Subject + msgpackr',
    better: 'latency',
  },
  'tcp-one-way': {
    title: 'TCP one-way, 64-byte messages, receiver in a child process',
    baseline: 'net tcp',
    better: 'throughput',
  },
  'local-one-way': {
    title: 'Local socket one-way (Unix socket / named pipe / ipc), 64-byte messages, receiver in a child process',
    baseline: 'net unix socket',
    better: 'throughput',
  },
  'tcp-round-trip': { title: 'TCP request/reply, one in flight, 64 bytes', baseline: 'net tcp', better: 'latency' },
  'local-round-trip': {
    title: 'Local socket request/reply, one in flight, 64 bytes',
    baseline: 'net unix socket',
    better: 'latency',
  },
};
