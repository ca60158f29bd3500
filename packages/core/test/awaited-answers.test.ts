import { describe, expect, it } from 'vitest';
import { AwaitedAnswers } from '../src/awaited-answers.js';

describe('AwaitedAnswers', () => {
  it('settles a request only for the link that owes it', () => {
    const awaited = new AwaitedAnswers<string>();
    expect(awaited.add('i1', 7, 'h')).toBeUndefined();
    expect(awaited.settle('i1', 7, 'liar')).toBe('h'); // owed by h: kept
    expect(awaited.settle('i1', 8, 'h')).toBeUndefined(); // another request: none
    expect(awaited.settle('i2', 7, 'h')).toBeUndefined(); // another inbox: none
    expect(awaited.settle('i1', 7, 'h')).toBe('h'); // answered: forgotten
    expect(awaited.settle('i1', 7, 'h')).toBeUndefined();
  });

  it('keeps one, several, none and one again per inbox, and gives them back in the order handed out', () => {
    const awaited = new AwaitedAnswers<string>();
    awaited.add('i', 1, 'a');
    awaited.add('i', 2, 'b');
    awaited.add('i', 3, 'a');
    expect(awaited.add('i', 3, 'a')).toBe('a'); // the same request again
    expect(awaited.add('i', 2, 'a')).toBe('b'); // handed to another link: it owes it now
    awaited.settle('i', 1, 'a');
    awaited.add('i', 4, 'a');
    awaited.add('j', 1, 'a');
    expect(awaited.takeOwedBy('b')).toEqual([]);
    expect(awaited.takeOwedBy('a')).toEqual([
      ['i', 2],
      ['i', 3],
      ['i', 4],
      ['j', 1],
    ]);
    expect(awaited.takeOwedBy('a')).toEqual([]);
    // Emptied, then one again: held inline, and still found.
    awaited.add('i', 9, 'c');
    expect(awaited.settle('i', 9, 'x')).toBe('c');
    expect(awaited.takeOwedBy('c')).toEqual([['i', 9]]);
  });

  it('forgets an inbox whole, telling which links owed its requests', () => {
    const awaited = new AwaitedAnswers<string>();
    awaited.add('i', 1, 'a');
    expect(awaited.forgetInbox('i')).toEqual(['a']);
    awaited.add('i', 1, 'a');
    awaited.add('i', 2, 'b');
    awaited.add('k', 1, 'b');
    expect(awaited.forgetInbox('i')).toEqual(['a', 'b']);
    expect(awaited.forgetInbox('i')).toEqual([]);
    expect(awaited.settle('i', 2, 'b')).toBeUndefined();
    expect(awaited.takeOwedBy('b')).toEqual([['k', 1]]);
  });
});
