/**
 * {@link AwaitedAnswers}: which link owes the first answer to each request a router handed out.
 *
 * @module
 */

/**
 * The requests of one inbox: one held inline, or a `Map` while there are several. Kept while its
 * requester is attached, emptied or not: adding to a fresh structure and dropping it again on
 * every request made the table grow and shrink each time (a twentieth of an in-process round trip
 * in profiles).
 */
interface InboxRequests<L> {
  /** The one request's correlation id, when `link` is set and `more` is not. */
  correlation: number;
  link: L | undefined;
  /** Correlation id → link, in the order handed out, while there are several. */
  more: Map<number, L> | undefined;
}

/**
 * Requests a router handed to a link that has not answered yet, by the requester's inbox and the
 * correlation id, with the link that owes the answer. Keyed by inbox because answers are
 * addressed to it, so both the request (whose origin's inbox the router has at hand) and its
 * answer find the entry without building a key.
 *
 * What it serves: a link that goes fails the requests it owes (`PeerLostError`), and the first
 * answer to a request is taken only from the link that owes it.
 *
 * @example
 * ```ts
 * const awaited = new AwaitedAnswers<Link>();
 * awaited.add('_INBOX.k3', 7, handler);
 * awaited.settle('_INBOX.k3', 7, liar); // → handler: not the liar's to answer, nothing forgotten
 * awaited.settle('_INBOX.k3', 7, handler); // → handler: answered, forgotten
 * ```
 */
export class AwaitedAnswers<L> {
  readonly #byInbox = new Map<string, InboxRequests<L>>();

  /**
   * Remember that `link` owes the answer to request `correlation` of `inbox`. Returns the link
   * that owed it before (the same request handed out again), or `undefined` for a new entry.
   */
  add(inbox: string, correlation: number, link: L): L | undefined {
    let requests = this.#byInbox.get(inbox);
    if (requests === undefined) {
      requests = { correlation, link: undefined, more: undefined };
      this.#byInbox.set(inbox, requests);
    }
    const more = requests.more;
    if (more !== undefined) {
      const before = more.get(correlation);
      more.set(correlation, link);
      return before;
    }
    const held = requests.link;
    if (held === undefined) {
      requests.correlation = correlation;
      requests.link = link;
      return undefined;
    }
    if (requests.correlation === correlation) {
      requests.link = link;
      return held;
    }
    requests.more = new Map([
      [requests.correlation, held],
      [correlation, link],
    ]);
    requests.link = undefined;
    return undefined;
  }

  /**
   * The link that owes the answer to request `correlation` of `inbox` (`undefined` when none is
   * remembered). When it is `link`, the request is forgotten: it has been answered.
   */
  settle(inbox: string, correlation: number, link: L): L | undefined {
    const requests = this.#byInbox.get(inbox);
    if (requests === undefined) return undefined;
    const more = requests.more;
    if (more === undefined) {
      const held = requests.link;
      if (held === undefined || requests.correlation !== correlation) return undefined;
      if (held === link) requests.link = undefined;
      return held;
    }
    const held = more.get(correlation);
    if (held === link) {
      more.delete(correlation);
      if (more.size === 0) requests.more = undefined;
    }
    return held;
  }

  /** Forget and return every request `link` owes, as `[inbox, correlation]`, in the order handed out. */
  takeOwedBy(link: L): Array<[inbox: string, correlation: number]> {
    const owed: Array<[string, number]> = [];
    for (const [inbox, requests] of this.#byInbox) {
      if (requests.link === link) {
        owed.push([inbox, requests.correlation]);
        requests.link = undefined;
      }
      const more = requests.more;
      if (more === undefined) continue;
      for (const [correlation, held] of more) {
        if (held !== link) continue;
        owed.push([inbox, correlation]);
        more.delete(correlation);
      }
      if (more.size === 0) requests.more = undefined;
    }
    return owed;
  }

  /** Forget every request of `inbox` (its member left); returns the links that owed them, one per request. */
  forgetInbox(inbox: string): L[] {
    const requests = this.#byInbox.get(inbox);
    if (requests === undefined) return [];
    this.#byInbox.delete(inbox);
    if (requests.more !== undefined) return [...requests.more.values()];
    return requests.link === undefined ? [] : [requests.link];
  }
}
