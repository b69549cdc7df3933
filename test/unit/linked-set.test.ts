/**
 * LinkedSet: the membership of connections and in-flight exchanges. Besides being a set, it
 * must let a member that left be freed by a scavenge even when the set itself is old: a `Set`
 * in the old generation keeps its replaced hash tables, and the members in them, until a full
 * GC (with a connection per request, every connection was promoted).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { LinkedSet } from '../../src/linked-set.js';

describe('LinkedSet', () => {
  it('keeps members in the order they were added, each once', () => {
    const set = new LinkedSet<{ n: number }>();
    const [a, b, c] = [{ n: 1 }, { n: 2 }, { n: 3 }];
    set.add(a);
    set.add(b);
    set.add(c);
    set.add(b);
    expect(set.size).toBe(3);
    expect([...set].map((m) => m.n)).toEqual([1, 2, 3]);
  });

  it('removes the first, a middle and the last member, and says whether it held them', () => {
    const set = new LinkedSet<{ n: number }>();
    const ms = [1, 2, 3, 4, 5].map((n) => ({ n }));
    for (const m of ms) set.add(m);
    expect(set.delete(ms[2]!)).toBe(true);
    expect(set.delete(ms[0]!)).toBe(true);
    expect(set.delete(ms[4]!)).toBe(true);
    expect(set.delete(ms[4]!)).toBe(false);
    expect(set.has(ms[4]!)).toBe(false);
    expect(set.has(ms[1]!)).toBe(true);
    expect(set.values().map((m) => m.n)).toEqual([2, 4]);
    set.add(ms[0]!);
    expect(set.values().map((m) => m.n)).toEqual([2, 4, 1]);
    expect(set.size).toBe(3);
  });

  it('iterates over a snapshot: members removed meanwhile are still visited, members added are not', () => {
    const set = new LinkedSet<{ n: number }>();
    const ms = [1, 2, 3].map((n) => ({ n }));
    for (const m of ms) set.add(m);
    const seen: number[] = [];
    for (const m of set) {
      seen.push(m.n);
      set.delete(m);
      set.delete(ms[1]!);
      set.add({ n: 10 + m.n });
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(set.values().map((m) => m.n)).toEqual([11, 12, 13]);
  });

  it('an object added to a second set leaves the first', () => {
    const one = new LinkedSet<object>();
    const two = new LinkedSet<object>();
    const m = {};
    one.add(m);
    two.add(m);
    expect(one.has(m)).toBe(false);
    expect(one.size).toBe(0);
    expect(two.has(m)).toBe(true);
  });

  it('members that left an old set are freed by scavenges, not promoted', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (opts?: { type: 'minor' | 'major' }) => void;
    const oldSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
    gc();
    const set = new LinkedSet<{ payload: number[] }>();
    set.add({ payload: [] });
    // Survives its scavenges: the set is in the old generation now, as a server's is.
    for (let i = 0; i < 3; i++) gc({ type: 'minor' });
    const before = oldSpace();
    // A connection per request: 50 members at a time, 20,000 through it.
    const live: Array<{ payload: number[] }> = [];
    let churned = 0;
    for (let i = 0; i < 20_000; i++) {
      const m = { payload: new Array<number>(32).fill(i) };
      churned += 32 * 8 + 64;
      set.add(m);
      live.push(m);
      if (live.length > 50) set.delete(live.shift()!);
    }
    for (const m of live.splice(0)) set.delete(m);
    gc({ type: 'minor' });
    gc({ type: 'minor' });
    const promoted = oldSpace() - before;
    // A Set here promotes most of what went through it (~80%, V8 13 and 11).
    expect(promoted).toBeLessThan(churned * 0.1);
  });
});
