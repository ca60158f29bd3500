/**
 * Membership datagrams exchanged by the transports of a bus, never handed to core: they have their
 * own magic ("BM", where envelopes start with "BW"), so they cannot be mistaken for frames and do
 * not consume envelope sequence numbers (which would show up as gaps in core's accounting).
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 2 | magic 0x424D ("BM") |
 * | 2 | 1 | version 1 |
 * | 3 | 1 | type: 1 Hello (I am here, this is my slot), 2 Bye (I am leaving) |
 * | 4 | 8 | member id (u64, big-endian) |
 * | 12 | 2 | slot key length (u16) |
 * | 14 | n | slot key (UTF-8): the file name on POSIX, the slot index on Win32 |
 *
 * @module
 */

/** First two bytes of a control datagram. */
export const CONTROL_MAGIC = 0x424d;
const CONTROL_VERSION = 1;
const HEADER = 14;
const MAX_KEY = 256;

/** Kinds of control datagram. */
export const ControlType = { Hello: 1, Bye: 2 } as const;
/** Numeric control type; see {@link ControlType}. */
export type ControlType = (typeof ControlType)[keyof typeof ControlType];

/** A decoded control datagram. */
export interface ControlDatagram {
  readonly type: ControlType;
  readonly member: number;
  readonly key: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * @example
 * ```ts
 * const hello = encodeControl({ type: ControlType.Hello, member: 42, key: '42.sock' });
 * ```
 */
export function encodeControl(control: ControlDatagram): Uint8Array {
  const key = encoder.encode(control.key);
  const out = new Uint8Array(HEADER + key.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, CONTROL_MAGIC);
  out[2] = CONTROL_VERSION;
  out[3] = control.type;
  view.setUint32(4, Math.floor(control.member / 0x1_0000_0000));
  view.setUint32(8, control.member >>> 0);
  view.setUint16(12, key.length);
  out.set(key, HEADER);
  return out;
}

/**
 * `true` when `bytes` starts like a control datagram (the caller then decodes it).
 *
 * @example
 * ```ts
 * if (isControl(datagram)) handle(decodeControl(datagram));
 * ```
 */
export function isControl(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/**
 * Decode a control datagram; `undefined` for anything malformed (it is garbage, counted by the
 * caller, never thrown: a stranger's datagram must not be able to crash a member).
 *
 * @example
 * ```ts
 * const control = decodeControl(datagram);
 * if (control?.type === ControlType.Bye) forget(control.member);
 * ```
 */
export function decodeControl(bytes: Uint8Array): ControlDatagram | undefined {
  if (bytes.length < HEADER || !isControl(bytes) || bytes[2] !== CONTROL_VERSION) return undefined;
  const type = bytes[3];
  if (type !== ControlType.Hello && type !== ControlType.Bye) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keyLength = view.getUint16(12);
  if (keyLength > MAX_KEY || HEADER + keyLength !== bytes.length) return undefined;
  const member = view.getUint32(4) * 0x1_0000_0000 + view.getUint32(8);
  if (!Number.isSafeInteger(member)) return undefined;
  try {
    return { type, member, key: decoder.decode(bytes.subarray(HEADER)) };
  } catch {
    return undefined;
  }
}
