import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicError } from '../src/errors.js';
import { matchTopic, TopicTrie, validatePattern, validateTopic } from '../src/topic.js';

describe('matchTopic', () => {
  it.each([
    ['a.b', 'a.b', true],
    ['a.*', 'a.b', true],
    ['a.*', 'a.b.c', false],
    ['a.*.c', 'a.b.c', true],
    ['a.>', 'a.b', true],
    ['a.>', 'a.b.c.d', true],
    ['a.>', 'a', false],
    ['>', 'a', true],
    ['*', 'a.b', false],
    ['a.b', 'a.c', false],
  ])('%s matches %s: %s', (pattern, topic, expected) => {
    expect(matchTopic(pattern, topic)).toBe(expected);
  });
});

describe('validation', () => {
  it('rejects wildcards in topics, empty tokens and white space', () => {
    for (const bad of ['', 'a.*', 'a.>', 'a..b', '.a', 'a.', 'a b']) {
      expect(() => validateTopic(bad), bad).toThrow(TopicError);
    }
    expect(() => validateTopic('x'.repeat(1025))).toThrow(TopicError);
    expect(() => validateTopic('orders.eu.created')).not.toThrow();
    // A topic checked last does not let another through.
    expect(() => validateTopic('orders.eu.created')).not.toThrow();
    expect(() => validateTopic('orders.*')).toThrow(TopicError);
  });

  it("rejects '>' before the end and partial-token wildcards in patterns", () => {
    for (const bad of ['a.>.b', 'a*', 'a.b>', '']) expect(() => validatePattern(bad), bad).toThrow(TopicError);
    for (const good of ['a.*', '>', '*.b.>', 'a']) expect(() => validatePattern(good), good).not.toThrow();
  });
});

describe('TopicTrie', () => {
  it('finds every value whose pattern matches, as matchTopic would', () => {
    const token = fc.constantFrom('a', 'b', 'c');
    const topic = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
    const pattern = fc
      .array(fc.constantFrom('a', 'b', '*'), { minLength: 1, maxLength: 4 })
      .chain((t) => fc.boolean().map((rest) => (rest ? [...t, '>'] : t).join('.')));
    fc.assert(
      fc.property(fc.uniqueArray(pattern, { maxLength: 12 }), topic, (patterns, t) => {
        const trie = new TopicTrie<string>();
        for (const p of patterns) trie.add(p, p);
        const expected = patterns.filter((p) => matchTopic(p, t)).sort();
        expect([...trie.match(t)].sort()).toEqual(expected);
      }),
    );
  });

  it('forgets removed values, counts entries, and sees changes after a cached match', () => {
    const trie = new TopicTrie<number>();
    trie.add('a.*', 1);
    trie.add('a.*', 1);
    trie.add('a.>', 2);
    expect(trie.size).toBe(2);
    expect([...trie.match('a.b')].sort()).toEqual([1, 2]);
    trie.remove('a.*', 1);
    expect([...trie.match('a.b')]).toEqual([2]);
    trie.remove('a.>', 2);
    expect(trie.size).toBe(0);
    expect(trie.match('a.b').size).toBe(0);
    // The topic matched last is remembered apart from the cache, and forgotten with it.
    expect(trie.match('a.b').size).toBe(0);
    trie.add('a.b', 3);
    expect([...trie.match('a.b')]).toEqual([3]);
    expect(trie.match('a.c').size).toBe(0);
    expect([...trie.match('a.b')]).toEqual([3]);
  });

  it('prunes emptied branches so one-off patterns do not accumulate', () => {
    const trie = new TopicTrie<number>();
    for (let i = 0; i < 1000; i += 1) {
      trie.add(`_INBOX.${i}`, i);
      trie.remove(`_INBOX.${i}`, i);
    }
    // White-box: the root keeps no children once every pattern is gone.
    expect((trie as unknown as { root: { children: Map<string, unknown> } }).root.children.size).toBe(0);
  });
});
