/**
 * Options of `createBus`.
 *
 * @module
 */
import type { PayloadCodec } from './codec.js';

/** Options of a bus. Every field is optional; each documents its default. */
export type BusOptions = Readonly<
  Partial<{
    /**
     * Where the bus lives, for example `pipe://orders` or `tcp://127.0.0.1:7400`.
     * Default: the `BUSWAY_URL` environment variable.
     */
    url: string;
    /** How `data` is encoded. Default: `msgpackCodec`. Receivers decode whatever was sent. */
    codec: PayloadCodec;
    /** Default request timeout in milliseconds (first reply, then between replies). Default: 10 000. */
    requestTimeout: number;
    /** Largest frame this member sends or accepts, in bytes. Default: 16 MiB. */
    maxFrameSize: number;
    /** Largest message (after reassembly), in bytes. Default: 256 MiB. */
    maxMessageSize: number;
    /** Milliseconds a partly received fragmented message is kept. Default: 30 000. */
    fragmentTimeout: number;
    /** Bytes of partly received fragmented messages kept at once. Default: 64 MiB. */
    maxReassemblyBytes: number;
    /** Frames remembered per sender for duplicate suppression. Default: 1024. */
    dedupWindow: number;
    /** Senders remembered for duplicate suppression; the least recent is forgotten. Default: 4096. */
    maxSenders: number;
    /**
     * Bytes of messages allowed to wait in the bus behind one still on its way (the fragments of a
     * large message, or a frame the transport has not accepted yet). A publish that would go past
     * it rejects with `BufferFullError` and sends nothing; the message in progress is never
     * refused by it. Default: 64 MiB.
     */
    maxQueuedBytes: number;
    /** Options handed to the transport as they are, for example TLS certificates. Default: none. */
    transportOptions: Readonly<Record<string, unknown>>;
  }>
>;

/** The options after defaults are applied. */
export interface ResolvedBusOptions {
  readonly codec: PayloadCodec;
  readonly requestTimeout: number;
  readonly maxFrameSize: number;
  readonly maxMessageSize: number;
  readonly fragmentTimeout: number;
  readonly maxReassemblyBytes: number;
  readonly dedupWindow: number;
  readonly maxSenders: number;
  readonly maxQueuedBytes: number;
  readonly transportOptions: Readonly<Record<string, unknown>>;
}
