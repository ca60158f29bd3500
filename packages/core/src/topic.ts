/**
 * Topics and patterns, NATS style: a topic is dot-separated tokens (`orders.created`); a pattern
 * may use `*` for exactly one token and `>` as its last token for one or more remaining tokens.
 *
 * @module
 */
import { TopicError } from './errors.js';

const MAX_TOPIC_LENGTH = 1024;

function checkTokens(text: string, what: string): string[] {
  if (typeof text !== 'string' || text.length === 0) throw new TopicError(`${what} must be a non-empty string`);
  if (text.length > MAX_TOPIC_LENGTH) throw new TopicError(`${what} is longer than ${MAX_TOPIC_LENGTH} characters`);
  const tokens = text.split('.');
  for (const token of tokens) {
    if (token.length === 0) throw new TopicError(`${what} "${text}" has an empty token`);
    if (/\s/.test(token)) throw new TopicError(`${what} "${text}" contains white space`);
  }
  return tokens;
}

/**
 * Throw {@link TopicError} unless `topic` is a concrete topic (no wildcards).
 *
 * @example
 * ```ts
 * validateTopic('orders.created'); // ok
 * validateTopic('orders.*');       // throws TopicError
 * ```
 */
export function validateTopic(topic: string): void {
  // Applications publish on a handful of topics over and over: remember the ones already checked,
  // the last one apart (a run of messages on one topic skips the set too).
  if (topic === lastValidTopic || validTopics.has(topic)) {
    lastValidTopic = topic;
    return;
  }
  for (const token of checkTokens(topic, 'topic')) {
    if (token === '*' || token === '>') throw new TopicError(`topic "${topic}" may not contain wildcards`);
  }
  if (validTopics.size >= 4096) validTopics.clear();
  validTopics.add(topic);
  lastValidTopic = topic;
}

const validTopics = new Set<string>();
let lastValidTopic: string | undefined;

/**
 * Throw {@link TopicError} unless `pattern` is a well-formed subscription pattern.
 *
 * @example
 * ```ts
 * validatePattern('orders.>'); // ok
 * validatePattern('orders.>.x'); // throws: '>' must be last
 * ```
 */
export function validatePattern(pattern: string): void {
  const tokens = checkTokens(pattern, 'pattern');
  tokens.forEach((token, i) => {
    if (token === '>' && i !== tokens.length - 1)
      throw new TopicError(`pattern "${pattern}": '>' must be the last token`);
    if (token.length > 1 && (token.includes('*') || token.includes('>'))) {
      throw new TopicError(`pattern "${pattern}": wildcards must be whole tokens`);
    }
  });
}

/**
 * Does `pattern` match `topic`?
 *
 * @example
 * ```ts
 * matchTopic('orders.*', 'orders.created');   // true
 * matchTopic('orders.>', 'orders.eu.created'); // true
 * matchTopic('orders.*', 'orders.eu.created'); // false
 * ```
 */
export function matchTopic(pattern: string, topic: string): boolean {
  if (pattern === topic) return true;
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i += 1) {
    const token = p[i];
    if (token === '>') return t.length > i;
    if (i >= t.length) return false;
    if (token !== '*' && token !== t[i]) return false;
  }
  return p.length === t.length;
}

interface TrieNode<V> {
  readonly children: Map<string, TrieNode<V>>;
  /** Values whose pattern ends at this node. */
  readonly values: Set<V>;
  /** Values whose pattern ends with `>` below this node. */
  readonly rest: Set<V>;
}

function newNode<V>(): TrieNode<V> {
  return { children: new Map(), values: new Set(), rest: new Set() };
}

/**
 * Many patterns, matched against a topic in time proportional to the topic's length rather than
 * the number of patterns. Used by the bus for local subscriptions and by the hub router.
 *
 * @example
 * ```ts
 * const trie = new TopicTrie<string>();
 * trie.add('orders.*', 'a');
 * trie.match('orders.created'); // Set { 'a' }
 * ```
 */
export class TopicTrie<V> {
  private readonly root: TrieNode<V> = newNode();
  private count = 0;
  private readonly cache = new Map<string, ReadonlySet<V>>();
  /** The topic matched last and its values; `undefined` topic: none since the trie changed. */
  private lastTopic: string | undefined;
  private lastMatch: ReadonlySet<V> = new Set<V>();

  /** Number of (pattern, value) entries. */
  get size(): number {
    return this.count;
  }

  /** Add `value` under `pattern`. Adding the same pair twice has no effect. */
  add(pattern: string, value: V): void {
    let node = this.root;
    const tokens = pattern.split('.');
    for (const token of tokens) {
      if (token === '>') {
        if (!node.rest.has(value)) this.count += 1;
        node.rest.add(value);
        this.forget();
        return;
      }
      let next = node.children.get(token);
      if (next === undefined) {
        next = newNode();
        node.children.set(token, next);
      }
      node = next;
    }
    if (!node.values.has(value)) this.count += 1;
    node.values.add(value);
    this.forget();
  }

  /** Remove `value` from `pattern`. */
  remove(pattern: string, value: V): void {
    const path: Array<[TrieNode<V>, string]> = [];
    let node: TrieNode<V> | undefined = this.root;
    for (const token of pattern.split('.')) {
      if (token === '>') {
        if (node.rest.delete(value)) this.count -= 1;
        break;
      }
      const next: TrieNode<V> | undefined = node.children.get(token);
      if (next === undefined) return;
      path.push([node, token]);
      node = next;
    }
    if (!pattern.endsWith('>') && node.values.delete(value)) this.count -= 1;
    // Prune empty branches so a churn of one-off patterns (inboxes) does not grow the trie.
    for (let i = path.length - 1; i >= 0; i -= 1) {
      const [parent, token] = path[i] as [TrieNode<V>, string];
      const child = parent.children.get(token) as TrieNode<V>;
      if (child.children.size > 0 || child.values.size > 0 || child.rest.size > 0) break;
      parent.children.delete(token);
    }
    this.forget();
  }

  /**
   * Every value whose pattern matches `topic`. The returned set is shared (cached per topic until the
   * trie changes): do not modify it.
   */
  match(topic: string): ReadonlySet<V> {
    // A run of messages on one topic skips the map: callers ask once or twice per frame.
    if (topic === this.lastTopic) return this.lastMatch;
    let cached = this.cache.get(topic);
    if (cached === undefined) cached = this.collectFor(topic);
    this.lastTopic = topic;
    this.lastMatch = cached;
    return cached;
  }

  private collectFor(topic: string): ReadonlySet<V> {
    const out = new Set<V>();
    this.collect(this.root, topic.split('.'), 0, out);
    // The cache is bounded: topics are open-ended (inboxes, ids), patterns change rarely.
    if (this.cache.size >= 4096) this.forget();
    this.cache.set(topic, out);
    return out;
  }

  /** Drop every remembered match: the trie changed. */
  private forget(): void {
    this.cache.clear();
    this.lastTopic = undefined;
  }

  private collect(node: TrieNode<V>, tokens: string[], i: number, out: Set<V>): void {
    if (i < tokens.length) for (const v of node.rest) out.add(v);
    if (i === tokens.length) {
      for (const v of node.values) out.add(v);
      return;
    }
    const token = tokens[i] as string;
    const exact = node.children.get(token);
    if (exact !== undefined) this.collect(exact, tokens, i + 1, out);
    const star = node.children.get('*');
    if (star !== undefined) this.collect(star, tokens, i + 1, out);
  }
}
