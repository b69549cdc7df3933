import { describe, it, expect } from 'vitest';
import { Gate, type Clock, type HoldOutcome, type Waiter } from '../../src/swap/gate.js';

/** A manual clock: time moves only through advance(), which fires due timers in order. */
class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers = new Map<number, { due: number; seq: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), seq: id, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }
  advance(ms: number): void {
    const target = this.#now + ms;
    // A gate that re-arms a due timer forever would hang here; fail instead.
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error('timer storm: over 100,000 timers fired in one advance');
      let next: [number, { due: number; seq: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        const t = entry[1];
        if (t.due > target) continue;
        if (next === undefined || t.due < next[1].due || (t.due === next[1].due && t.seq < next[1].seq)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].due;
      next[1].fn();
    }
    this.#now = target;
  }
}

interface Settlement {
  name: string;
  outcome: HoldOutcome;
  waitedMs: number;
}

/** Waiters that record each settlement, in the order they happen. */
function recorder(): { log: Settlement[]; waiter(name: string): Waiter } {
  const log: Settlement[] = [];
  return {
    log,
    waiter: (name) => ({ settle: (outcome, waitedMs) => log.push({ name, outcome, waitedMs }) }),
  };
}

function enqueued(result: ReturnType<Gate['enqueue']>): { withdraw(): void } {
  if (result === 'overflow') throw new Error('unexpected overflow');
  return result;
}

function setup(opts: { timeoutMs?: number; maxQueued?: number } = {}) {
  const clock = new FakeClock();
  const gate = new Gate({ timeoutMs: opts.timeoutMs ?? 10_000, maxQueued: opts.maxQueued ?? 100, clock });
  return { clock, gate, ...recorder() };
}

describe('Gate', () => {
  it('a new gate is serving and open', () => {
    const { gate } = setup();
    expect(gate.state).toBe('serving');
    expect(gate.open).toBe(true);
    expect(gate.holders()).toEqual([]);
  });

  it('holding the gate closes it', () => {
    const { gate } = setup();
    gate.hold('swap');
    expect(gate.state).toBe('held');
    expect(gate.open).toBe(false);
    expect(gate.isHeldBy('swap')).toBe(true);
  });

  it('held requests are released in arrival order with the time each waited', () => {
    const { clock, gate, log, waiter } = setup();
    gate.hold('swap');
    enqueued(gate.enqueue(waiter('a')));
    clock.advance(10);
    enqueued(gate.enqueue(waiter('b')));
    clock.advance(20);
    enqueued(gate.enqueue(waiter('c')));
    clock.advance(5);
    expect(log).toEqual([]);
    gate.release('swap');
    expect(log).toEqual([
      { name: 'a', outcome: 'released', waitedMs: 35 },
      { name: 'b', outcome: 'released', waitedMs: 25 },
      { name: 'c', outcome: 'released', waitedMs: 5 },
    ]);
    expect(gate.open).toBe(true);
    expect(gate.queued).toBe(0);
  });

  it('enqueue past max_queued returns overflow and does not queue', () => {
    const { gate, log, waiter } = setup({ maxQueued: 2 });
    gate.hold('swap');
    enqueued(gate.enqueue(waiter('a')));
    enqueued(gate.enqueue(waiter('b')));
    expect(gate.enqueue(waiter('c'))).toBe('overflow');
    expect(gate.queued).toBe(2);
    gate.release('swap');
    expect(log.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('queued requests time out in arrival order with the time they waited; later ones survive', () => {
    const { clock, gate, log, waiter } = setup({ timeoutMs: 100 });
    gate.hold('swap');
    enqueued(gate.enqueue(waiter('a')));
    clock.advance(30);
    enqueued(gate.enqueue(waiter('b')));
    clock.advance(30);
    enqueued(gate.enqueue(waiter('c')));

    clock.advance(39); // t=99: nobody is due yet
    expect(log).toEqual([]);
    clock.advance(1); // t=100: a is due
    expect(log).toEqual([{ name: 'a', outcome: 'timed_out', waitedMs: 100 }]);
    expect(gate.queued).toBe(2);
    clock.advance(30); // t=130: b is due
    expect(log).toEqual([
      { name: 'a', outcome: 'timed_out', waitedMs: 100 },
      { name: 'b', outcome: 'timed_out', waitedMs: 100 },
    ]);
    expect(gate.queued).toBe(1);

    clock.advance(10); // t=140: c has waited 80 ms
    gate.release('swap');
    expect(log[2]).toEqual({ name: 'c', outcome: 'released', waitedMs: 80 });
    expect(log).toHaveLength(3);
  });

  it('counts the requests answered at the wait limit, not the released or withdrawn ones', () => {
    const { clock, gate, waiter } = setup({ timeoutMs: 100 });
    gate.hold('migrate');
    enqueued(gate.enqueue(waiter('a')));
    enqueued(gate.enqueue(waiter('b')));
    enqueued(gate.enqueue(waiter('gone'))).withdraw();
    clock.advance(100);
    expect(gate.timedOut).toBe(2);
    enqueued(gate.enqueue(waiter('c')));
    clock.advance(50);
    gate.release('migrate');
    expect(gate.timedOut).toBe(2);
  });

  it('requests queued at the same moment time out together', () => {
    const { clock, gate, log, waiter } = setup({ timeoutMs: 50 });
    gate.hold('swap');
    enqueued(gate.enqueue(waiter('a')));
    enqueued(gate.enqueue(waiter('b')));
    clock.advance(50);
    expect(log.map((s) => [s.name, s.outcome])).toEqual([
      ['a', 'timed_out'],
      ['b', 'timed_out'],
    ]);
    expect(gate.queued).toBe(0);
  });

  it('a withdrawn waiter is not settled on release', () => {
    const { gate, log, waiter } = setup();
    gate.hold('swap');
    const a = enqueued(gate.enqueue(waiter('a')));
    enqueued(gate.enqueue(waiter('b')));
    a.withdraw();
    gate.release('swap');
    expect(log.map((s) => s.name)).toEqual(['b']);
  });

  it('a withdrawn waiter is not settled when its timeout passes', () => {
    const { clock, gate, log, waiter } = setup({ timeoutMs: 100 });
    gate.hold('swap');
    const a = enqueued(gate.enqueue(waiter('a')));
    clock.advance(10);
    enqueued(gate.enqueue(waiter('b')));
    a.withdraw();
    clock.advance(200);
    expect(log).toEqual([{ name: 'b', outcome: 'timed_out', waitedMs: 100 }]);
  });

  it('a withdrawn waiter frees its queue slot', () => {
    const { gate, waiter } = setup({ maxQueued: 2 });
    gate.hold('swap');
    const a = enqueued(gate.enqueue(waiter('a')));
    enqueued(gate.enqueue(waiter('b')));
    expect(gate.enqueue(waiter('c'))).toBe('overflow');
    a.withdraw();
    expect(gate.queued).toBe(1);
    expect(gate.enqueue(waiter('c'))).not.toBe('overflow');
  });

  it('withdrawing the same waiter twice frees only one slot', () => {
    const { gate, waiter } = setup({ maxQueued: 2 });
    gate.hold('swap');
    const a = enqueued(gate.enqueue(waiter('a')));
    enqueued(gate.enqueue(waiter('b')));
    a.withdraw();
    a.withdraw();
    expect(gate.queued).toBe(1);
    enqueued(gate.enqueue(waiter('c')));
    expect(gate.enqueue(waiter('d'))).toBe('overflow');
  });

  it('withdrawing a waiter that already timed out does not free another slot', () => {
    const { clock, gate, waiter } = setup({ timeoutMs: 100, maxQueued: 2 });
    gate.hold('swap');
    const a = enqueued(gate.enqueue(waiter('a')));
    clock.advance(50);
    enqueued(gate.enqueue(waiter('b')));
    clock.advance(50); // a times out
    a.withdraw(); // the client goes away after its 503
    expect(gate.queued).toBe(1);
    enqueued(gate.enqueue(waiter('c')));
    expect(gate.enqueue(waiter('d'))).toBe('overflow');
  });

  it('with two holders, releasing one keeps the gate held and the requests queued', () => {
    const { gate, log, waiter } = setup();
    gate.hold('swap');
    gate.hold('pause');
    enqueued(gate.enqueue(waiter('a')));
    expect(gate.release('swap')).toBeUndefined();
    expect(gate.open).toBe(false);
    expect(gate.holders()).toEqual(['pause']);
    expect(log).toEqual([]);
    expect(gate.queued).toBe(1);
  });

  it('with two holders, releasing both releases the requests', () => {
    const { gate, log, waiter } = setup();
    gate.hold('swap');
    gate.hold('pause');
    enqueued(gate.enqueue(waiter('a')));
    gate.release('pause');
    gate.release('swap');
    expect(gate.open).toBe(true);
    expect(log.map((s) => [s.name, s.outcome])).toEqual([['a', 'released']]);
  });

  it('releasing a reason that does not hold the gate changes nothing', () => {
    const { gate, log, waiter } = setup();
    gate.hold('swap');
    enqueued(gate.enqueue(waiter('a')));
    expect(gate.release('pause')).toBeUndefined();
    expect(gate.open).toBe(false);
    expect(log).toEqual([]);
  });

  it('release returns how long the gate was held, from the first hold', () => {
    const { clock, gate } = setup();
    clock.advance(1000);
    gate.hold('swap');
    clock.advance(100);
    gate.hold('pause');
    clock.advance(150);
    gate.release('pause');
    clock.advance(50);
    expect(gate.release('swap')).toBe(300);
  });

  it('a gate held again after a release measures the new hold only', () => {
    const { clock, gate } = setup();
    gate.hold('swap');
    clock.advance(100);
    gate.release('swap');
    clock.advance(1000);
    gate.hold('swap');
    clock.advance(40);
    expect(gate.release('swap')).toBe(40);
  });

  it('release leaves no timeout timer armed', () => {
    const { clock, gate, log, waiter } = setup({ timeoutMs: 100 });
    gate.hold('swap');
    enqueued(gate.enqueue(waiter('a')));
    expect(clock.pending).toBe(1);
    gate.release('swap');
    expect(clock.pending).toBe(0);
    clock.advance(1000);
    expect(log).toHaveLength(1);
  });

  it('10,000 queued requests are released in order, each exactly once', () => {
    const { clock, gate, waiter } = setup({ timeoutMs: 60_000, maxQueued: 10_000 });
    const seen: number[] = [];
    const outcomes = new Set<HoldOutcome>();
    gate.hold('swap');
    for (let i = 0; i < 10_000; i++) {
      enqueued(gate.enqueue({ settle: (outcome) => (seen.push(i), outcomes.add(outcome)) }));
    }
    expect(gate.enqueue(waiter('one too many'))).toBe('overflow');
    gate.release('swap');
    clock.advance(120_000);
    expect(seen).toHaveLength(10_000);
    expect(seen.every((n, i) => n === i)).toBe(true);
    expect([...outcomes]).toEqual(['released']);
  });

  it('10,000 requests partly timed out then released are each settled exactly once, in order', () => {
    const { clock, gate } = setup({ timeoutMs: 5000, maxQueued: 10_000 });
    const seen: Array<[number, HoldOutcome]> = [];
    gate.hold('swap');
    for (let i = 0; i < 10_000; i++) {
      enqueued(gate.enqueue({ settle: (outcome) => seen.push([i, outcome]) }));
      clock.advance(1);
    }
    // t=10,000: requests 0..5000 have waited their full 5 s.
    const timedOut = seen.length;
    expect(timedOut).toBe(5001);
    expect(gate.queued).toBe(10_000 - timedOut);
    gate.release('swap');
    clock.advance(60_000);
    expect(seen.map(([i]) => i)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(seen.slice(0, timedOut).every(([, o]) => o === 'timed_out')).toBe(true);
    expect(seen.slice(timedOut).every(([, o]) => o === 'released')).toBe(true);
  });
});
