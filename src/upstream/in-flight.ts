/**
 * The exchanges in flight on one upstream, as an intrusive doubly linked list: the links live
 * on the exchange, so adding and removing allocate nothing.
 *
 * Not a Set: V8 rebuilds a Set's table each time its size crosses a capacity threshold, and the
 * old table keeps its entries and a pointer to the new one (for live iterators). Once one table
 * has reached the old generation, every later table hangs from it, with the exchanges listed in
 * them and all they hold (the client stream, headers, buffers): the young-generation collector
 * copies and promotes them all, and only a full collection frees them. Over HTTP/2 that was
 * most of a request's garbage, promoted (see docs/benchmarks.md).
 */

/** What is in flight on an upstream: an exchange, as the drain sees it. */
export interface InFlight {
  /** A long-lived stream (server-sent events): ended at the drain grace, not waited for. */
  readonly isStream: boolean;
  cut(reason: CutReason): void;
  // The list's links, owned by InFlightList.
  inFlightPrev: InFlight | undefined;
  inFlightNext: InFlight | undefined;
  inFlightList: InFlightList | undefined;
}

/** Why the drain ends what is still in flight. */
export type CutReason =
  /** The grace is over for a long-lived stream: end it cleanly so the client reconnects. */
  | 'grace'
  /** The drain timeout: 504 if nothing was sent yet, else cut the stream. */
  | 'timeout';

export class InFlightList {
  #head: InFlight | undefined;
  #tail: InFlight | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Listed here (moved from another list if it was in one). */
  add(e: InFlight): void {
    if (e.inFlightList === this) return;
    e.inFlightList?.remove(e);
    e.inFlightList = this;
    e.inFlightNext = undefined;
    e.inFlightPrev = this.#tail;
    if (this.#tail !== undefined) this.#tail.inFlightNext = e;
    else this.#head = e;
    this.#tail = e;
    this.#size++;
  }

  /** Unlisted; false when it was not listed here. Its links are cleared, so it holds no neighbour. */
  remove(e: InFlight): boolean {
    if (e.inFlightList !== this) return false;
    const { inFlightPrev: prev, inFlightNext: next } = e;
    if (prev !== undefined) prev.inFlightNext = next;
    else this.#head = next;
    if (next !== undefined) next.inFlightPrev = prev;
    else this.#tail = prev;
    e.inFlightPrev = undefined;
    e.inFlightNext = undefined;
    e.inFlightList = undefined;
    this.#size--;
    return true;
  }

  /** The entries in the order they were added, copied: safe to cut (and so remove) while walking it. */
  toArray(): InFlight[] {
    const out: InFlight[] = [];
    for (let e = this.#head; e !== undefined; e = e.inFlightNext) out.push(e);
    return out;
  }

  /** How many are (or are not) long-lived streams. */
  count(streams: boolean): number {
    let n = 0;
    for (let e = this.#head; e !== undefined; e = e.inFlightNext) if (e.isStream === streams) n++;
    return n;
  }
}
