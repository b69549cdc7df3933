/**
 * Deadlines (the upstream headers timeout) without a timer per request (issue 5: a `setTimeout`
 * per request cost ~7 µs of CPU and most of the p99 at c=50, timer bookkeeping and the garbage
 * it keeps reachable). Entries with the same timeout expire in the order they were added, so
 * each timeout value keeps a FIFO (an intrusive doubly linked list: no allocation per entry)
 * and one Node timer armed for its oldest entry.
 */

/** What the list links; the exchange implements it. */
export interface DeadlineEntry {
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
  deadlineAt: number;
  /** Which list holds it (undefined when in none). */
  deadlineList: DeadlineList | undefined;
  /** Called once when the deadline passes while still listed. */
  onDeadline(): void;
}

export class DeadlineList {
  readonly #ms: number;
  #head: DeadlineEntry | undefined;
  #tail: DeadlineEntry | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  add(e: DeadlineEntry, now: number): void {
    e.deadlineAt = now + this.#ms;
    e.deadlineList = this;
    e.deadlineNext = undefined;
    e.deadlinePrev = this.#tail;
    if (this.#tail !== undefined) this.#tail.deadlineNext = e;
    else this.#head = e;
    this.#tail = e;
    if (this.#timer === undefined) this.#arm(e.deadlineAt, now);
  }

  remove(e: DeadlineEntry): void {
    if (e.deadlineList !== this) return;
    const { deadlinePrev: prev, deadlineNext: next } = e;
    if (prev !== undefined) prev.deadlineNext = next;
    else this.#head = next;
    if (next !== undefined) next.deadlinePrev = prev;
    else this.#tail = prev;
    e.deadlinePrev = undefined;
    e.deadlineNext = undefined;
    e.deadlineList = undefined;
    // The timer stays armed for the old head, even once the list is empty; when it fires it
    // re-arms for the new head, if any, so a removal costs no timer call (nearly every entry is
    // removed long before its deadline, and with few requests in flight the list empties and
    // fills again all the time: a new connection per request cleared and set a timer each).
  }

  #arm(at: number, now: number): void {
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - now)));
    // An entry is an exchange waiting on an upstream socket, which keeps the process alive: the
    // timer need not, and one left armed over an empty list must not.
    this.#timer.unref();
  }

  #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    // Entries whose deadline passed (a 1 ms slack: timers fire on millisecond ticks).
    while (this.#head !== undefined && this.#head.deadlineAt <= now + 1) {
      const e = this.#head;
      this.remove(e);
      e.onDeadline();
    }
    if (this.#head !== undefined && this.#timer === undefined) this.#arm(this.#head.deadlineAt, now);
  };
}

/** One list per timeout value (in practice one: limits.upstream_headers_timeout). */
export class Deadlines {
  readonly #lists = new Map<number, DeadlineList>();

  /** `now`: performance.now(), when the caller has just read it. */
  add(e: DeadlineEntry, ms: number, now = performance.now()): void {
    let list = this.#lists.get(ms);
    if (list === undefined) {
      list = new DeadlineList(ms);
      this.#lists.set(ms, list);
    }
    list.add(e, now);
  }

  remove(e: DeadlineEntry): void {
    e.deadlineList?.remove(e);
  }
}
