/**
 * Options of the mailslot transport, passed as `createBus(url, { transportOptions })`.
 *
 * @module
 */

/**
 * Every field is optional; the default is given with each.
 *
 * @example
 * ```ts
 * const options = { key: process.env.BUS_KEY, heartbeatMs: 500 } satisfies MailslotTransportOptions;
 * const bus = await createBus('mailslot://orders', { transportOptions: options });
 * ```
 */
export type MailslotTransportOptions = Readonly<
  Partial<{
    /**
     * Shared secret (≥ 16 bytes) of the bus. When set, every datagram carries an HMAC-SHA-256
     * trailer (36 bytes, taken from the frame budget) and unauthenticated or replayed datagrams are
     * dropped and counted. Default: none. On POSIX the sockets' 0700 directory already keeps other
     * users out; on Win32, and always for `mailslot://*\/bus`, anyone who knows the name can write,
     * so set a key there.
     */
    key: string | Uint8Array;
    /**
     * How often, in ms, a member rescans the slots (noticing crashed members) and re-announces
     * itself with a Hello. Default: 1000.
     */
    heartbeatMs: number;
    /**
     * A member whose slot exists but from which nothing (not even its heartbeat Hello) arrived for
     * this long, in ms, is taken as gone. The slot check finds crashed members sooner on Linux and
     * Windows; this catches Wine, where a mailslot outlives its owner while others hold client
     * handles to it. Default: 5 × `heartbeatMs`.
     */
    memberTimeoutMs: number;
    /**
     * Largest datagram between members of one machine, in bytes. Default: 65536. Domain broadcast
     * (`mailslot://*\/bus`) is always capped at 424.
     */
    maxDatagramSize: number;
    /**
     * Bytes queued per peer while its slot is full (Linux queues only `net.unix.max_dgram_qlen`
     * datagrams, 10 by default). Past it, `send` makes the bus wait until the backlog drains
     * (backpressure). Default: 8388608 (8 MiB).
     */
    maxBacklogBytes: number;
    /**
     * Longest wait for a backlog to drain, in ms; then the oldest queued datagrams past
     * `maxBacklogBytes` are dropped and counted, because one stuck member must not stall the
     * others. Default: 2000.
     */
    maxStallMs: number;
    /**
     * Largest datagram into which frames waiting for a full peer are packed (`DatagramBatch`), in
     * bytes; 0 (or anything too small for two frames) sends them one per datagram. Default:
     * `maxDatagramSize` (424 for `mailslot://*\/bus`).
     */
    batchBytes: number;
    /** POSIX only: parent of the private `busway-<uid>` directory. Default: `$XDG_RUNTIME_DIR`, else `os.tmpdir()`. */
    directory: string;
    /** Win32 only: slots per bus and machine, claimed by index. Default: 32. */
    maxMembers: number;
    /** Accepted clock difference for authenticated datagrams, in ms. Default: 30000. */
    maxAgeMs: number;
  }>
>;
