/**
 * The hold gate of one service: while anyone holds it, new requests wait in a bounded FIFO
 * queue (their bodies unread); when the last holder releases it they are sent on in arrival
 * order. Pure: no sockets, and the clock is injected.
 */

/** What became of a held request. */
export type HoldOutcome = 'released' | 'timed_out' | 'overflow' | 'shutdown';

/** Why the gate is held. Several holders may overlap (a pause during a swap). */
export type HoldReason = 'swap' | 'pause' | 'migrate';

export type GateState = 'serving' | 'held';

/** A queued request. `settle` is called exactly once, unless it is withdrawn first. */
export interface Waiter {
  settle(outcome: HoldOutcome, waitedMs: number): void;
}

interface Entry {
  waiter: Waiter;
  at: number;
  /** Set when withdrawn or settled: skipped by the queue. */
  gone: boolean;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class Gate {
  #timeoutMs: number;
  #maxQueued: number;
  readonly #clock: Clock;
  /** Each holder and how long it lets a request wait (ms; the gate's timeout unless it said). */
  #holders = new Map<HoldReason, number>();
  #queue: Entry[] = [];
  #head = 0;
  #size = 0;
  #timer: unknown = undefined;
  #heldAt = 0;
  #timedOut = 0;

  constructor(opts: { timeoutMs: number; maxQueued: number; clock?: Clock }) {
    this.#timeoutMs = opts.timeoutMs;
    this.#maxQueued = opts.maxQueued;
    this.#clock = opts.clock ?? realClock;
  }

  /** New limits (a reload): they apply to requests queued from now on, and to the next expiry. */
  setLimits(opts: { timeoutMs: number; maxQueued: number }): void {
    for (const [reason, limit] of this.#holders) if (limit === this.#timeoutMs) this.#holders.set(reason, opts.timeoutMs);
    this.#timeoutMs = opts.timeoutMs;
    this.#maxQueued = opts.maxQueued;
    this.#disarm();
    this.#arm();
  }

  get state(): GateState {
    return this.#holders.size > 0 ? 'held' : 'serving';
  }
  get open(): boolean {
    return this.#holders.size === 0;
  }
  /** Requests waiting now. */
  get queued(): number {
    return this.#size;
  }
  /** Held requests answered at the wait limit (503) since the gate was made: a swap reports its share. */
  get timedOut(): number {
    return this.#timedOut;
  }
  holders(): HoldReason[] {
    return [...this.#holders.keys()];
  }
  isHeldBy(reason: HoldReason): boolean {
    return this.#holders.has(reason);
  }

  /**
   * Hold the gate for `reason`. `waitLimitMs` bounds how long requests wait while this holder
   * holds, instead of the gate's timeout (a pause with a timeout of its own releases its
   * requests then, so they wait without bound in the meantime: Infinity).
   */
  hold(reason: HoldReason, waitLimitMs?: number): void {
    if (this.#holders.size === 0) this.#heldAt = this.#clock.now();
    this.#holders.set(reason, waitLimitMs ?? this.#timeoutMs);
    this.#disarm();
    this.#arm();
  }

  /**
   * Drop one holder. When none is left, release every waiter in arrival order and return how
   * long the gate was held (ms); else return undefined.
   */
  release(reason: HoldReason): number | undefined {
    if (!this.#holders.delete(reason)) return undefined;
    if (this.#holders.size > 0) {
      // What is left may allow a shorter wait than the holder that went.
      this.#disarm();
      this.#arm();
      return undefined;
    }
    this.#settleAll('released');
    return this.#clock.now() - this.#heldAt;
  }

  /**
   * Queue a request while held. Returns a handle to withdraw it (client gone), or 'overflow'
   * when the queue is full (the caller answers 503 at once). Call only when `!open`.
   */
  enqueue(waiter: Waiter): { withdraw(): void } | 'overflow' {
    if (this.#size >= this.#maxQueued) return 'overflow';
    const entry: Entry = { waiter, at: this.#clock.now(), gone: false };
    this.#queue.push(entry);
    this.#size++;
    if (this.#timer === undefined) this.#arm();
    return {
      withdraw: () => {
        if (entry.gone) return;
        entry.gone = true;
        this.#size--;
      },
    };
  }

  #settleAll(outcome: HoldOutcome): void {
    const queue = this.#queue;
    const start = this.#head;
    this.#queue = [];
    this.#head = 0;
    this.#size = 0;
    this.#disarm();
    const now = this.#clock.now();
    for (let i = start; i < queue.length; i++) {
      const e = queue[i]!;
      if (e.gone) continue;
      e.gone = true;
      e.waiter.settle(outcome, now - e.at);
    }
  }

  /** How long a request may wait now: the longest of what the holders allow. */
  #waitLimit(): number {
    let limit = 0;
    for (const ms of this.#holders.values()) if (ms > limit) limit = ms;
    return this.#holders.size === 0 ? this.#timeoutMs : limit;
  }

  /** One timer for the whole queue: entries share a timeout, so they expire in order. */
  #arm(): void {
    const first = this.#peek();
    const limit = this.#waitLimit();
    if (first === undefined || !Number.isFinite(limit)) return;
    const due = Math.max(0, first.at + limit - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => this.#expire(), due);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    const limit = this.#waitLimit();
    while (this.#head < this.#queue.length) {
      const e = this.#queue[this.#head]!;
      if (!e.gone && now - e.at < limit) break;
      this.#head++;
      if (e.gone) continue;
      e.gone = true;
      this.#size--;
      this.#timedOut++;
      e.waiter.settle('timed_out', now - e.at);
    }
    // Compact once the consumed prefix dominates, so a long hold does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#arm();
  }

  #peek(): Entry | undefined {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.gone) this.#head++;
    return this.#queue[this.#head];
  }
}
