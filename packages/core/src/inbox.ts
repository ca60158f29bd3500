/**
 * Inboxes: the topic of what is addressed to one member alone (replies, acks, cancels,
 * no-responder answers). Routers deliver an inbox's frames to the link of its member and to no
 * other, whatever the subscriptions (see `InterestRouter`); a bus still subscribes to its own.
 *
 * @module
 */

/** Prefix of every inbox topic. Applications should not publish under it. */
export const INBOX_PREFIX = '_INBOX.';

/**
 * The inbox topic of a member.
 *
 * @example
 * ```ts
 * inboxTopic(35); // '_INBOX.z'
 * ```
 */
export function inboxTopic(memberId: number): string {
  // A handler answers runs of requests from one member: its inbox without a map lookup (member
  // ids are random doubles, slower to hash than small integers).
  if (memberId === lastMember) return lastInbox;
  // Every reply, ack and cancel is addressed by inbox: remember the few members one talks to.
  let topic = inboxes.get(memberId);
  if (topic === undefined) {
    topic = INBOX_PREFIX + memberId.toString(36);
    if (inboxes.size >= 4096) inboxes.clear();
    inboxes.set(memberId, topic);
  }
  lastMember = memberId;
  lastInbox = topic;
  return topic;
}

const inboxes = new Map<number, string>();
let lastMember = Number.NaN; // equal to no id
let lastInbox = '';

/**
 * Is `topic` some member's inbox?
 *
 * @example
 * ```ts
 * isInbox('_INBOX.z'); // true
 * ```
 */
export function isInbox(topic: string): boolean {
  return topic.startsWith(INBOX_PREFIX);
}

/**
 * A member id in the form applications see (`Message.sender.member`): base 36.
 *
 * @example
 * ```ts
 * memberName(35); // 'z'
 * ```
 */
export function memberName(memberId: number): string {
  return memberId.toString(36);
}
