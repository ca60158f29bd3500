/**
 * An in-process {@link HubEndpoint} for testing `HubTransport` without sockets: addresses live in
 * a map, links are pairs of queues delivering on a later microtask like a real socket would.
 */
import {
  AddressInUseError,
  type FrameLink,
  type FrameLinkSink,
  type HubEndpoint,
  type HubListener,
} from '../../src/hub/index.js';
import { BufferFullError, ClosedError } from '../../src/errors.js';
import type { FrameWriter } from '../../src/transport.js';

export class MemoryFrameLink implements FrameLink {
  readonly peer = { address: 'memory' };
  other!: MemoryFrameLink;
  sink: FrameLinkSink | undefined;
  closed = false;
  readonly #early: Uint8Array[] = [];
  /** Bytes sent but not yet delivered; over `limit` send throws, like a socket's write queue. */
  inFlight = 0;

  constructor(readonly limit = Number.POSITIVE_INFINITY) {}

  start(sink: FrameLinkSink): void {
    this.sink = sink;
    for (const frame of this.#early.splice(0)) sink.onFrame(frame);
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new ClosedError('link closed');
    if (this.inFlight > this.limit) throw new BufferFullError(this.limit);
    this.inFlight += frame.length;
    const copy = frame.slice();
    queueMicrotask(() => {
      this.inFlight -= frame.length;
      this.other.receive(copy);
    });
  }

  /** Frames sent through `sendInPlace`, for tests that check a transport used it. */
  inPlaceSends = 0;

  /** Like a socket link's: the writer fills bytes of this link's own, which are then sent. */
  sendInPlace(length: number, writer: FrameWriter): void {
    if (this.closed) throw new ClosedError('link closed');
    if (this.inFlight > this.limit) throw new BufferFullError(this.limit);
    const frame = new Uint8Array(length);
    writer.writeFrame(frame, 0);
    this.inPlaceSends += 1;
    this.send(frame);
  }

  receive(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.sink === undefined) this.#early.push(frame);
    else this.sink.onFrame(frame);
  }

  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => this.sink?.onClose(error));
    this.other.close();
  }
}

export class MemoryHubNetwork {
  readonly listeners = new Map<string, { accept: (link: FrameLink) => void; links: Set<MemoryFrameLink> }>();
  connectAttempts = 0;

  endpoint(address: string): HubEndpoint {
    return {
      description: `memory:${address}`,
      listen: async (onLink) => {
        if (this.listeners.has(address)) throw new AddressInUseError(address);
        const entry = { accept: onLink, links: new Set<MemoryFrameLink>() };
        this.listeners.set(address, entry);
        const listener: HubListener = {
          close: async () => {
            if (this.listeners.get(address) === entry) this.listeners.delete(address);
          },
        };
        return listener;
      },
      connect: async () => {
        this.connectAttempts += 1;
        const entry = this.listeners.get(address);
        if (entry === undefined) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        const client = new MemoryFrameLink();
        const server = new MemoryFrameLink(64 * 1024);
        client.other = server;
        server.other = client;
        entry.links.add(server);
        entry.accept(server);
        return client;
      },
    };
  }

  /** What kill -9 does to a hub: the address is free and every link drops at once. */
  crash(address: string): void {
    const entry = this.listeners.get(address);
    if (entry === undefined) return;
    this.listeners.delete(address);
    for (const link of entry.links) link.close();
  }
}
