/**
 * `@busway/core/internal`: what sibling busway packages (transports) share. Not a stable public
 * API: it changes with the packages that use it.
 *
 * @module
 */
export * from './envelope.js';
export { codecFor } from './codec.js';
export { TopicTrie } from './topic.js';
export { HotStream } from './hot-stream.js';
export { inboxTopic, isInbox, memberName, INBOX_PREFIX } from './inbox.js';
export { InterestRouter } from './interest-router.js';
export type { RouterLink, RouterStats } from './interest-router.js';
export { DedupWindow, type DedupWindowOptions, type DedupStats } from './dedup-window.js';
export {
  FrameDecoder,
  encodeLengthPrefixed,
  LENGTH_PREFIX_SIZE,
  type FrameDecoderOptions,
  type FrameHandler,
} from './frame-decoder.js';
export * from './hub/index.js';
export { fragmentEnvelope } from './fragmenter.js';
export { Reassembler, type ReassemblerOptions, type ReassemblerStats } from './reassembler.js';
