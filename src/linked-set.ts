/**
 * A set of objects kept as a doubly linked list threaded through the members themselves, for
 * members that come and go at the request rate (connections, exchanges in flight).
 *
 * Why not a `Set`: V8 replaces a Set's hash table as members come and go, and a replaced table
 * keeps pointing to the members it held. Once the Set has lived long enough to be in the old
 * generation, its tables are allocated there too; a dead one is only freed by a full GC, and
 * until then every member it held, and all they point to, survives each scavenge and is
 * promoted. With a connection per request that was every connection (its socket, parser,
 * requests and exchanges), and scavenges that copy all of it. Here a member that leaves is
 * unlinked both ways and nothing else refers to it.
 *
 * An object is a member of one LinkedSet at a time (the links are the same properties for all):
 * adding it to one takes it out of the other.
 */

const kPrev = Symbol('baton.linkedSet.prev');
const kNext = Symbol('baton.linkedSet.next');
const kOwner = Symbol('baton.linkedSet.owner');

interface Links<T> {
  [kPrev]?: T | undefined;
  [kNext]?: T | undefined;
  [kOwner]?: LinkedSet<object> | undefined;
}

export class LinkedSet<T extends object> {
  #first: T | undefined;
  #last: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(member: T): boolean {
    return (member as Links<T>)[kOwner] === this;
  }

  /** Add `member` last; a member already here stays where it is. */
  add(member: T): void {
    const m = member as Links<T>;
    const owner = m[kOwner];
    if (owner === this) return;
    owner?.delete(member);
    m[kOwner] = this as LinkedSet<object>;
    m[kPrev] = this.#last;
    m[kNext] = undefined;
    if (this.#last !== undefined) (this.#last as Links<T>)[kNext] = member;
    else this.#first = member;
    this.#last = member;
    this.#size++;
  }

  /** Remove `member`; false when it was not here. */
  delete(member: T): boolean {
    const m = member as Links<T>;
    if (m[kOwner] !== this) return false;
    const prev = m[kPrev];
    const next = m[kNext];
    if (prev !== undefined) (prev as Links<T>)[kNext] = next;
    else this.#first = next;
    if (next !== undefined) (next as Links<T>)[kPrev] = prev;
    else this.#last = prev;
    m[kPrev] = undefined;
    m[kNext] = undefined;
    m[kOwner] = undefined;
    this.#size--;
    return true;
  }

  /** The members in the order they were added, as they are now (members may leave meanwhile). */
  values(): T[] {
    const out: T[] = [];
    for (let m = this.#first; m !== undefined; m = (m as Links<T>)[kNext]) out.push(m);
    return out;
  }

  /** Iterates over values(): a snapshot, so members may be added or removed while iterating. */
  [Symbol.iterator](): Iterator<T> {
    return this.values()[Symbol.iterator]();
  }
}
