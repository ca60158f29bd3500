import { config, type Observable, Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { HotStream } from '../src/hot-stream.js';

afterEach(() => {
  config.onUnhandledError = null;
});

describe('HotStream', () => {
  it('sends each value to the subscribers present when it is sent', () => {
    const stream = new HotStream<number>();
    const a: number[] = [];
    const b: number[] = [];
    stream.next(0); // nobody listens yet: lost, as with a Subject
    const subA = stream.observable.subscribe((v) => a.push(v));
    stream.next(1);
    stream.observable.subscribe((v) => b.push(v));
    stream.next(2);
    subA.unsubscribe();
    stream.next(3);
    expect(a).toEqual([1, 2]);
    expect(b).toEqual([2, 3]);
  });

  it('a subscriber leaving or joining during a send is treated as a Subject treats it', () => {
    // The same script against a Subject and a HotStream: the one that left gets nothing more,
    // the one that joined gets only later values.
    const run = (source: { observable: Observable<number>; next(v: number): void }): string[] => {
      const got: string[] = [];
      const first = source.observable.subscribe((v) => {
        got.push(`first ${v}`);
        if (v === 1) {
          second.unsubscribe();
          source.observable.subscribe((w) => got.push(`late ${w}`));
        }
      });
      const second = source.observable.subscribe((v) => got.push(`second ${v}`));
      source.next(1);
      first.unsubscribe();
      source.next(2);
      return got;
    };
    const subject = new Subject<number>();
    const expected = run({ observable: subject.asObservable(), next: (v) => subject.next(v) });
    expect(expected).toEqual(['first 1', 'late 2']);
    expect(run(new HotStream<number>())).toEqual(expected);
  });

  it('ends once: complete or error reaches every subscriber and every later one, and later values go nowhere', () => {
    const completed = new HotStream<number>();
    const seen: string[] = [];
    completed.observable.subscribe({ next: (v) => seen.push(`v${v}`), complete: () => seen.push('done') });
    completed.complete();
    completed.error(new Error('too late'));
    completed.next(1);
    completed.observable.subscribe({ complete: () => seen.push('late done') });
    expect(seen).toEqual(['done', 'late done']);

    const failed = new HotStream<number>();
    const boom = new Error('boom');
    const errors: unknown[] = [];
    failed.observable.subscribe({ error: (e: unknown) => errors.push(e) });
    failed.error(boom);
    failed.complete();
    failed.observable.subscribe({ error: (e: unknown) => errors.push(e) });
    expect(errors).toEqual([boom, boom]);
  });

  it('a subscriber that throws does not keep the value from the others (reported as unhandled, as rxjs does)', async () => {
    const stream = new HotStream<number>();
    const unhandled: unknown[] = [];
    config.onUnhandledError = (err) => unhandled.push(err);
    const got: number[] = [];
    stream.observable.subscribe(() => {
      throw new Error('subscriber bug');
    });
    stream.observable.subscribe((v) => got.push(v));
    stream.next(7);
    expect(got).toEqual([7]);
    await new Promise((r) => setTimeout(r, 10));
    expect(unhandled).toHaveLength(1);
  });
});
