/**
 * Who else is on the bus, without a central process: the slots that exist (from
 * {@link DatagramLink.scan}) and the member ids their owners announced in Hello datagrams.
 *
 * @module
 */

/** One known peer slot. */
export interface Member {
  /** Slot key (file name on POSIX, slot index on Win32). */
  readonly key: string;
  /** Member id once its Hello (or first frame) arrived. */
  id: number | undefined;
  /** Last envelope sequence seen from it, to place a synthesized Leave right after. */
  lastSequence: number | undefined;
  /** When we last heard from it (any datagram), or when its slot was found, in ms since the epoch. */
  lastHeard: number;
}

/**
 * @example
 * ```ts
 * const members = new MemberDirectory('1.sock');
 * const { joined, left } = members.reconcile(link.scan());
 * for (const m of joined) link.send(m.key, hello);
 * for (const m of left) announceLeave(m);
 * ```
 */
export class MemberDirectory {
  readonly #ownKey: string;
  readonly #byKey = new Map<string, Member>();
  readonly #byId = new Map<number, Member>();

  constructor(ownKey: string) {
    this.#ownKey = ownKey;
  }

  /** Number of peers (not counting this member). */
  get size(): number {
    return this.#byKey.size;
  }

  /** The peers, in discovery order. */
  members(): IterableIterator<Member> {
    return this.#byKey.values();
  }

  /** Align with the slots that exist: new keys joined, missing keys left. */
  reconcile(keys: readonly string[]): { joined: Member[]; left: Member[] } {
    const present = new Set(keys);
    present.delete(this.#ownKey);
    const joined: Member[] = [];
    const left: Member[] = [];
    for (const [key, member] of this.#byKey) {
      if (!present.has(key)) {
        this.#remove(member);
        left.push(member);
      }
    }
    for (const key of present) {
      if (!this.#byKey.has(key)) joined.push(this.#add(key));
    }
    return { joined, left };
  }

  /**
   * A Hello arrived: bind `id` to `key`. Returns the member and whether its slot was new to us
   * (a member that joined between two scans).
   */
  hello(id: number, key: string): { member: Member; isNew: boolean; replaced: Member | undefined } | undefined {
    if (key === this.#ownKey) return undefined;
    let member = this.#byKey.get(key);
    let replaced: Member | undefined;
    if (member !== undefined && member.id !== undefined && member.id !== id) {
      // Another member now owns the slot (Win32 reuses indexes): the previous owner is gone.
      replaced = member;
      this.#remove(member);
      member = undefined;
    }
    const isNew = member === undefined;
    member ??= this.#add(key);
    if (member.id !== id) {
      member.id = id;
      this.#byId.set(id, member);
    }
    return { member, isNew, replaced };
  }

  /** Remove the member with slot `key`; returns it if it was known. */
  removeKey(key: string): Member | undefined {
    const member = this.#byKey.get(key);
    if (member !== undefined) this.#remove(member);
    return member;
  }

  /** Remove the member `id` (it said Bye); returns it if it was known. */
  removeId(id: number): Member | undefined {
    const member = this.#byId.get(id);
    if (member !== undefined) this.#remove(member);
    return member;
  }

  /** Note an envelope from `origin`, so a later Leave can follow its last sequence. */
  noteSequence(origin: number, sequence: number): void {
    const member = this.#byId.get(origin);
    // Serial-number comparison: frames may arrive reordered, and the u32 sequence wraps.
    if (member !== undefined && (member.lastSequence === undefined || ((sequence - member.lastSequence) | 0) > 0)) {
      member.lastSequence = sequence;
    }
  }

  /** Note that a datagram from member `id` arrived. */
  heard(id: number): void {
    const member = this.#byId.get(id);
    if (member !== undefined) member.lastHeard = Date.now();
  }

  #add(key: string): Member {
    const member: Member = { key, id: undefined, lastSequence: undefined, lastHeard: Date.now() };
    this.#byKey.set(key, member);
    return member;
  }

  #remove(member: Member): void {
    this.#byKey.delete(member.key);
    if (member.id !== undefined && this.#byId.get(member.id) === member) this.#byId.delete(member.id);
  }
}
