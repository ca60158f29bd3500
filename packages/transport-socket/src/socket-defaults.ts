import { DEFAULT_MAX_FRAME_SIZE } from '@busway/core';
import type { StreamFrameLinkOptions } from '@busway/core/internal';
import type { FramedSocketOptions, TlsSocketOptions } from './socket-options.js';

/** Loopback: a hub is reachable from other hosts only when a host is named. */
export const DEFAULT_HOST = '127.0.0.1';
/** Defaults of the options documented in `socket-options.ts`. */
export const SOCKET_DEFAULTS = {
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  handshakeTimeout: 5000,
  frameTimeout: 30_000,
  writeBufferLimit: 8 * 1024 * 1024,
  maxConnections: 1024,
  connectTimeout: 5000,
} as const;

/** The per-link limits of core's `StreamFrameLink` (same names as ours), this package's defaults applied. */
export function linkLimits(
  options: FramedSocketOptions,
): Required<Pick<StreamFrameLinkOptions, 'maxFrameSize' | 'frameTimeout' | 'writeBufferLimit'>> {
  return {
    maxFrameSize: options.maxFrameSize ?? SOCKET_DEFAULTS.maxFrameSize,
    frameTimeout: options.frameTimeout ?? SOCKET_DEFAULTS.frameTimeout,
    writeBufferLimit: options.writeBufferLimit ?? SOCKET_DEFAULTS.writeBufferLimit,
  };
}

/** Node's `tls` option object from ours; `minVersion` defaults to TLS 1.2. */
export function nodeTlsOptions(tls: TlsSocketOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { minVersion: 'TLSv1.2' };
  for (const [key, value] of Object.entries(tls)) if (value !== undefined) out[key] = value;
  return out;
}
