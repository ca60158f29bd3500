/**
 * The busway transport over mailslots (Unix datagram sockets on POSIX): every member owns one slot
 * and writes each frame to the slots of all the others. See the package README for the membership
 * design; this class is platform-neutral and gets its slots from a {@link DatagramLink}.
 *
 * @module
 */
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import {
  ClosedError,
  ConfigurationError,
  FrameTooLargeError,
  type ConnectionState,
  type InboundFrame,
  type Transport,
  type TransportCapabilities,
} from '@busway/core';
import { checkEnvelopeHeader, encodeEnvelope, FrameKind, HotStream } from '@busway/core/internal';
import { ControlType, decodeControl, encodeControl, isControl } from './ControlDatagram.js';
import { BATCH_ENTRY_OVERHEAD, BATCH_HEADER_SIZE, encodeBatch, isBatch, splitBatch } from './DatagramBatch.js';
import type { DatagramLink, LinkDatagram } from './DatagramLink.js';
import { AUTH_TRAILER_SIZE, FrameAuthenticator } from './FrameAuthenticator.js';
import { DOMAIN_BROADCAST_LIMIT, type MailslotAddress } from './MailslotAddress.js';
import type { MailslotTransportOptions } from './MailslotTransportOptions.js';
import { MemberDirectory, type Member } from './MemberDirectory.js';

/** Opens the platform's slot for a member; `onDatagram` is called for every datagram received. */
export type LinkOpener = (onDatagram: (datagram: LinkDatagram) => void) => Promise<DatagramLink>;

interface Backlog {
  readonly queue: Uint8Array[];
  bytes: number;
}

/** Counters reported through `bus.stats()`. */
interface Counters {
  framesSent: number;
  framesReceived: number;
  datagramsOversized: number;
  datagramsGarbage: number;
  datagramsUnauthenticated: number;
  datagramsReplayed: number;
  datagramsDropped: number;
  membersJoined: number;
  membersLeft: number;
  batchesSent: number;
}

/**
 * @example
 * ```ts
 * const transport = new MailslotTransport({ bus: 'orders', domain: false }, memberId, 16 << 20, {}, openPosixLink(...));
 * await transport.open();
 * transport.frames$.subscribe(({ bytes }) => console.log(bytes.length));
 * transport.send(frame);
 * ```
 */
export class MailslotTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  readonly frames$: Observable<InboundFrame>;
  readonly #frames = new HotStream<InboundFrame>();
  readonly #state = new BehaviorSubject<ConnectionState>('connecting');
  readonly #memberId: number;
  readonly #openLink: LinkOpener;
  readonly #auth: FrameAuthenticator | undefined;
  readonly #heartbeatMs: number;
  readonly #memberTimeoutMs: number;
  readonly #datagramLimit: number;
  readonly #batchBytes: number;
  readonly #maxBacklogBytes: number;
  readonly #backlogs = new Map<string, Backlog>();
  readonly #counters: Counters = {
    framesSent: 0,
    framesReceived: 0,
    datagramsOversized: 0,
    datagramsGarbage: 0,
    datagramsUnauthenticated: 0,
    datagramsReplayed: 0,
    datagramsDropped: 0,
    membersJoined: 0,
    membersLeft: 0,
    batchesSent: 0,
  };
  #link: DatagramLink | undefined;
  #members: MemberDirectory | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #roomWaiters: (() => void)[] = [];
  readonly #maxStallMs: number;
  #closing: Promise<void> | undefined;

  constructor(
    address: MailslotAddress,
    memberId: number,
    busMaxFrameSize: number,
    options: MailslotTransportOptions,
    openLink: LinkOpener,
  ) {
    this.#memberId = memberId;
    this.#openLink = openLink;
    this.#heartbeatMs = positive('heartbeatMs', options.heartbeatMs ?? 1000);
    this.#memberTimeoutMs = positive('memberTimeoutMs', options.memberTimeoutMs ?? 5 * this.#heartbeatMs);
    this.#maxBacklogBytes = positive('maxBacklogBytes', options.maxBacklogBytes ?? 8 * 1024 * 1024);
    this.#maxStallMs = positive('maxStallMs', options.maxStallMs ?? 2000);
    this.#auth =
      options.key === undefined
        ? undefined
        : new FrameAuthenticator(
            options.key,
            address.bus,
            memberId,
            options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs },
          );
    const datagramLimit = address.domain
      ? DOMAIN_BROADCAST_LIMIT
      : positive('maxDatagramSize', options.maxDatagramSize ?? 65536);
    this.#datagramLimit = datagramLimit;
    this.#batchBytes = options.batchBytes ?? datagramLimit;
    const overhead = this.#auth === undefined ? 0 : AUTH_TRAILER_SIZE;
    this.capabilities = {
      reliable: false,
      // One slot is a FIFO and the per-peer backlog keeps order; a domain broadcast may arrive
      // once per network protocol, in any order.
      ordered: !address.domain,
      maxFrameSize: Math.min(busMaxFrameSize, datagramLimit - overhead),
      broadcast: 'native',
      knowsResponders: false,
    };
    this.frames$ = this.#frames.observable;
  }

  /** Current state; replays the latest to new subscribers. */
  get state$(): Observable<ConnectionState> {
    return this.#state.pipe(distinctUntilChanged());
  }

  async open(): Promise<void> {
    if (this.#closing !== undefined) throw new ClosedError('the mailslot transport is closed');
    if (this.#link !== undefined) return;
    const link = await this.#openLink((d) => this.#receive(d));
    this.#link = link;
    this.#members = new MemberDirectory(link.ownKey);
    this.#rescan(true);
    this.#heartbeat = setInterval(() => this.#rescan(true), this.#heartbeatMs);
    // Heartbeats alone must not keep a process alive; an open socket does not either.
    this.#heartbeat.unref();
    this.#state.next('open');
  }

  /**
   * Write the frame to every other member's slot. Returns a promise only when a peer's backlog
   * is over `maxBacklogBytes`: it resolves once the backlog drained below it (backpressure for the
   * bus, which awaits each fragment), or after `maxStallMs`, when the over-full backlogs are cut
   * back to the limit (oldest first, counted as `datagramsDropped`) so one stuck member cannot
   * stall the bus.
   */
  send(frame: Uint8Array): void | Promise<void> {
    if (this.#closing !== undefined) throw new ClosedError('the mailslot transport is closed');
    const link = this.#link;
    const members = this.#members;
    if (link === undefined || members === undefined) throw new ClosedError('the mailslot transport is not open');
    if (frame.length > this.capabilities.maxFrameSize)
      throw new FrameTooLargeError(frame.length, this.capabilities.maxFrameSize);
    // A member that joined a moment ago has a slot but may not have greeted us yet: a cheap
    // change check (the directory's mtime on POSIX) catches it before this frame goes out.
    if (link.changed()) this.#rescan(false);
    const datagram = this.#seal(frame);
    for (const member of [...members.members()]) this.#deliver(member, frame, datagram);
    this.#counters.framesSent += 1;
    if (this.#overLimit()) return this.#waitForRoom();
  }

  #overLimit(): boolean {
    for (const backlog of this.#backlogs.values()) if (backlog.bytes > this.#maxBacklogBytes) return true;
    return false;
  }

  #waitForRoom(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#roomWaiters.push(resolve);
      if (this.#stallTimer === undefined) {
        this.#stallTimer = setTimeout(() => {
          this.#stallTimer = undefined;
          for (const backlog of this.#backlogs.values()) this.#trim(backlog, this.#maxBacklogBytes);
          this.#wakeRoomWaiters();
        }, this.#maxStallMs);
      }
    });
  }

  #wakeRoomWaiters(): void {
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #trim(backlog: Backlog, limit: number): void {
    while (backlog.bytes > limit && backlog.queue.length > 1) {
      const dropped = backlog.queue.shift() as Uint8Array;
      backlog.bytes -= dropped.length;
      this.#counters.datagramsDropped += 1;
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  stats(): Readonly<Record<string, number>> {
    const c = this.#counters;
    // Field by field: V8 builds `{ ...counters, more }` (or a clone then assignments) through a slow
    // path that measured 10–18 µs a call on Node 20, and publishers poll stats for backpressure.
    return {
      framesSent: c.framesSent,
      framesReceived: c.framesReceived,
      datagramsOversized: c.datagramsOversized,
      datagramsGarbage: c.datagramsGarbage,
      datagramsUnauthenticated: c.datagramsUnauthenticated,
      datagramsReplayed: c.datagramsReplayed,
      datagramsDropped: c.datagramsDropped,
      membersJoined: c.membersJoined,
      membersLeft: c.membersLeft,
      batchesSent: c.batchesSent,
      members: this.#members?.size ?? 0,
    };
  }

  async #close(): Promise<void> {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#wakeRoomWaiters();
    const link = this.#link;
    if (link !== undefined && this.#members !== undefined) {
      // Best effort: peers also notice the vanished slot on their next scan.
      const bye = this.#seal(encodeControl({ type: ControlType.Bye, member: this.#memberId, key: link.ownKey }));
      for (const member of this.#members.members()) link.send(member.key, bye);
      // Overlapped writes (Win32) still in flight would be cancelled by closing their handles.
      await link.flush(200);
      await link.close();
    }
    this.#backlogs.clear();
    this.#state.next('closed');
    this.#state.complete();
    this.#frames.complete();
  }

  #seal(body: Uint8Array): Uint8Array {
    return this.#auth === undefined ? body : this.#auth.seal(body);
  }

  /**
   * Write to one peer, behind whatever is already queued for it so its order is kept. `datagram`
   * is `body` as sent alone (sealed when there is a key); a backlog keeps bodies, to pack them.
   */
  #deliver(member: Member, body: Uint8Array, datagram: Uint8Array): void {
    const backlog = this.#backlogs.get(member.key);
    if (backlog !== undefined) {
      this.#enqueue(backlog, body);
      return;
    }
    const outcome = (this.#link as DatagramLink).send(member.key, datagram);
    if (outcome === 'full') {
      const fresh: Backlog = { queue: [], bytes: 0 };
      this.#backlogs.set(member.key, fresh);
      this.#enqueue(fresh, body);
      this.#scheduleFlush();
    } else if (outcome === 'gone') {
      this.#depart(member.key);
    }
  }

  #enqueue(backlog: Backlog, datagram: Uint8Array): void {
    backlog.queue.push(datagram);
    backlog.bytes += datagram.length;
    // Hard cap for writers that do not wait for the promise (membership datagrams, careless callers).
    this.#trim(backlog, 2 * this.#maxBacklogBytes);
  }

  #scheduleFlush(): void {
    if (this.#closing !== undefined) return;
    const link = this.#link;
    if (link?.whenWritable !== undefined) {
      // Woken by the kernel as soon as a full peer has room (POSIX: POLLOUT on a connected socket).
      for (const key of this.#backlogs.keys()) link.whenWritable(key, () => this.#flush());
      return;
    }
    if (this.#flushTimer !== undefined) return;
    // No "room again" signal from this link: retry shortly.
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush();
    }, 1);
  }

  #flush(): void {
    const link = this.#link;
    if (link === undefined || this.#closing !== undefined) return;
    const room =
      Math.min(this.#batchBytes, this.#datagramLimit - (this.#auth === undefined ? 0 : AUTH_TRAILER_SIZE)) -
      BATCH_HEADER_SIZE;
    for (const [key, backlog] of this.#backlogs) {
      let outcome: ReturnType<DatagramLink['send']> = 'sent';
      while (backlog.queue.length > 0) {
        // Pack as many queued bodies as fit one datagram (see DatagramBatch).
        let count = 0;
        let size = 0;
        for (const body of backlog.queue) {
          if (size + BATCH_ENTRY_OVERHEAD + body.length > room) break;
          size += BATCH_ENTRY_OVERHEAD + body.length;
          count += 1;
        }
        const parts = backlog.queue.slice(0, Math.max(1, count));
        const datagram = this.#seal(parts.length === 1 ? (parts[0] as Uint8Array) : encodeBatch(parts));
        outcome = link.send(key, datagram);
        if (outcome !== 'sent') break;
        if (parts.length > 1) this.#counters.batchesSent += 1;
        backlog.queue.splice(0, parts.length);
        for (const part of parts) backlog.bytes -= part.length;
      }
      if (outcome === 'gone') this.#depart(key);
      else if (backlog.queue.length === 0) this.#backlogs.delete(key);
    }
    if (this.#backlogs.size > 0) this.#scheduleFlush();
    if (this.#roomWaiters.length > 0 && !this.#overLimit()) this.#wakeRoomWaiters();
  }

  /** Align with the slots that exist and greet newcomers; on a heartbeat, re-announce to everyone. */
  #rescan(heartbeat: boolean): void {
    const link = this.#link;
    const members = this.#members;
    if (link === undefined || members === undefined || this.#closing !== undefined) return;
    const { joined, left } = members.reconcile(link.scan());
    for (const member of left) {
      link.forget(member.key);
      this.#announceLeave(member);
    }
    // A slot that exists but whose owner has been silent for memberTimeoutMs (every member
    // re-announces itself each heartbeat): gone. Needed under Wine, where a mailslot outlives its
    // owner while other members hold client handles to it; elsewhere the slot check is enough.
    const silentSince = Date.now() - this.#memberTimeoutMs;
    for (const member of [...members.members()]) {
      if (member.lastHeard < silentSince) {
        link.forget(member.key);
        this.#depart(member.key);
      }
    }
    this.#counters.membersJoined += joined.length;
    const hello = encodeControl({ type: ControlType.Hello, member: this.#memberId, key: link.ownKey });
    const sealed = this.#seal(hello);
    for (const member of heartbeat ? [...members.members()] : joined) this.#deliver(member, hello, sealed);
  }

  #depart(key: string): void {
    this.#backlogs.delete(key);
    if (this.#roomWaiters.length > 0 && !this.#overLimit()) this.#wakeRoomWaiters();
    const member = this.#members?.removeKey(key);
    if (member !== undefined) this.#announceLeave(member);
  }

  /**
   * Tell core that a member left, as a hub would on its behalf: a Leave envelope from its origin,
   * numbered right after its last frame, so that core's duplicate window drops it if the member's
   * own Leave arrived too.
   */
  #announceLeave(member: Member): void {
    // A slot whose owner never said who it was is not counted as a member that left.
    if (member.id === undefined || this.#closing !== undefined) return;
    this.#counters.membersLeft += 1;
    const sequence = member.lastSequence === undefined ? 0 : (member.lastSequence + 1) >>> 0;
    this.#frames.next({ bytes: encodeEnvelope({ kind: FrameKind.Leave, origin: member.id, sequence, topic: '' }) });
  }

  #receive(datagram: LinkDatagram): void {
    try {
      this.#receiveUnsafe(datagram);
    } catch {
      // A subscriber or a decoder threw: a bad datagram must never take the member down.
      this.#counters.datagramsGarbage += 1;
    }
  }

  #receiveUnsafe(datagram: LinkDatagram): void {
    if (this.#closing !== undefined) return;
    if (datagram.truncated) {
      this.#counters.datagramsOversized += 1;
      return;
    }
    let body = datagram.bytes;
    let sender: number | undefined;
    if (this.#auth !== undefined) {
      const opened = this.#auth.open(body);
      if (!opened.ok) {
        if (opened.reason === 'replayed') this.#counters.datagramsReplayed += 1;
        else this.#counters.datagramsUnauthenticated += 1;
        return;
      }
      body = opened.body;
      sender = opened.sender;
    }
    if (isBatch(body)) {
      const parts = splitBatch(body);
      if (parts === undefined) {
        this.#counters.datagramsGarbage += 1;
        return;
      }
      for (const part of parts) {
        // Batches do not nest: a batch inside one is garbage, never unpacked.
        if (isBatch(part)) this.#counters.datagramsGarbage += 1;
        else this.#receiveBody(part, sender);
      }
      return;
    }
    this.#receiveBody(body, sender);
  }

  /** One frame or membership datagram, authenticated already when there is a key. */
  #receiveBody(body: Uint8Array, sender: number | undefined): void {
    try {
      this.#receiveBodyUnsafe(body, sender);
    } catch {
      // A subscriber or a decoder threw: a bad datagram must never take the member down.
      this.#counters.datagramsGarbage += 1;
    }
  }

  #receiveBodyUnsafe(body: Uint8Array, sender: number | undefined): void {
    if (isControl(body)) {
      this.#control(body, sender);
      return;
    }
    if (body.length > this.capabilities.maxFrameSize) {
      this.#counters.datagramsOversized += 1;
      return;
    }
    try {
      checkEnvelopeHeader(body, body.length);
    } catch {
      this.#counters.datagramsGarbage += 1;
      return;
    }
    const view = new DataView(body.buffer, body.byteOffset, 20);
    const origin = view.getUint32(8) * 0x1_0000_0000 + view.getUint32(12);
    // A key holder may only speak for itself: a frame whose origin is not the authenticated
    // sender could otherwise poison another member's window in core.
    if (sender !== undefined && origin !== sender) {
      this.#counters.datagramsUnauthenticated += 1;
      return;
    }
    this.#members?.noteSequence(origin, view.getUint32(16));
    this.#members?.heard(origin);
    this.#counters.framesReceived += 1;
    this.#frames.next({ bytes: body });
  }

  #control(body: Uint8Array, sender: number | undefined): void {
    const control = decodeControl(body);
    if (control === undefined || (sender !== undefined && control.member !== sender)) {
      this.#counters.datagramsGarbage += 1;
      return;
    }
    const members = this.#members;
    if (members === undefined) return;
    if (control.type === ControlType.Bye) {
      const member = members.removeId(control.member);
      if (member !== undefined) {
        this.#backlogs.delete(member.key);
        if (this.#roomWaiters.length > 0 && !this.#overLimit()) this.#wakeRoomWaiters();
        this.#announceLeave(member);
      }
      return;
    }
    // The key becomes a path (POSIX) or slot name (Win32): never trust its shape.
    if (this.#link?.isPeerKey(control.key) !== true) {
      this.#counters.datagramsGarbage += 1;
      return;
    }
    const known = members.hello(control.member, control.key);
    if (known !== undefined) known.member.lastHeard = Date.now();
    if (known?.replaced !== undefined) this.#announceLeave(known.replaced);
    if (known?.isNew === true) {
      // It joined between two scans: greet it now so it learns our id without waiting.
      this.#counters.membersJoined += 1;
      const link = this.#link as DatagramLink;
      const hello = encodeControl({ type: ControlType.Hello, member: this.#memberId, key: link.ownKey });
      this.#deliver(known.member, hello, this.#seal(hello));
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new ConfigurationError(`${name} must be a positive number, got ${value}`);
  return value;
}
