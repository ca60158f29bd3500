/**
 * The reference peers, raw Node `net` and zeromq.js, in every socket group. Transports add their
 * own scenarios to these groups (see README.md), so that each busway figure is read against them.
 */
import { ipcAddress, tcpAddress } from '../peers/address.mjs';
import { netRoundTrip, netThroughput } from '../peers/net.mjs';
import { zmqRoundTrip, zmqThroughput } from '../peers/zmq.mjs';

export const scenarios = [
  {
    name: 'net tcp',
    group: 'tcp-one-way',
    baseline: true,
    run: ({ durationMs }) => netThroughput(tcpAddress(), { durationMs }),
  },
  {
    name: 'zeromq tcp:// push/pull',
    group: 'tcp-one-way',
    run: ({ durationMs }) => zmqThroughput(tcpAddress(), { durationMs }),
  },
  {
    name: 'net unix socket',
    group: 'local-one-way',
    baseline: true,
    run: ({ durationMs }) => netThroughput(ipcAddress('net'), { durationMs }),
  },
  {
    name: 'zeromq ipc:// push/pull',
    group: 'local-one-way',
    run: ({ durationMs }) => zmqThroughput(ipcAddress('zmq'), { durationMs }),
  },
  {
    name: 'net tcp',
    group: 'tcp-round-trip',
    baseline: true,
    run: ({ durationMs }) => netRoundTrip(tcpAddress(), { durationMs }),
  },
  {
    name: 'zeromq tcp:// req/rep',
    group: 'tcp-round-trip',
    run: ({ durationMs }) => zmqRoundTrip(tcpAddress(), { durationMs }),
  },
  {
    name: 'net unix socket',
    group: 'local-round-trip',
    baseline: true,
    run: ({ durationMs }) => netRoundTrip(ipcAddress('net'), { durationMs }),
  },
  {
    name: 'zeromq ipc:// req/rep',
    group: 'local-round-trip',
    run: ({ durationMs }) => zmqRoundTrip(ipcAddress('zmq'), { durationMs }),
  },
];
