import { describe, expect, it } from 'vitest';
import { InFlightList, type CutReason, type InFlight } from '../../src/upstream/in-flight.js';

class Entry implements InFlight {
  inFlightPrev: InFlight | undefined = undefined;
  inFlightNext: InFlight | undefined = undefined;
  inFlightList: InFlightList | undefined = undefined;
  cuts: CutReason[] = [];
  constructor(
    readonly name: string,
    readonly isStream = false,
  ) {}
  cut(reason: CutReason): void {
    this.cuts.push(reason);
    this.inFlightList?.remove(this);
  }
}

const names = (list: InFlightList): string[] => list.toArray().map((e) => (e as Entry).name);

describe('InFlightList', () => {
  it('keeps entries in the order they came, and removes from the head, middle and tail', () => {
    const list = new InFlightList();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Entry(n));
    for (const e of [a!, b!, c!, d!]) list.add(e);
    expect(names(list)).toEqual(['a', 'b', 'c', 'd']);
    expect(list.remove(b!)).toBe(true);
    expect(names(list)).toEqual(['a', 'c', 'd']);
    expect(list.remove(a!)).toBe(true);
    expect(list.remove(d!)).toBe(true);
    expect(names(list)).toEqual(['c']);
    expect(list.size).toBe(1);
    expect(list.remove(c!)).toBe(true);
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
  });

  it('clears the links of a removed entry, so it holds none of its neighbours', () => {
    const list = new InFlightList();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new Entry(n));
    for (const e of [a!, b!, c!]) list.add(e);
    list.remove(b!);
    expect([b!.inFlightPrev, b!.inFlightNext, b!.inFlightList]).toEqual([undefined, undefined, undefined]);
    expect(a!.inFlightNext).toBe(c);
    expect(c!.inFlightPrev).toBe(a);
  });

  it('says false for an entry it does not hold, and adds an entry once', () => {
    const list = new InFlightList();
    const other = new InFlightList();
    const a = new Entry('a');
    expect(list.remove(a)).toBe(false);
    list.add(a);
    list.add(a);
    expect(list.size).toBe(1);
    expect(other.remove(a)).toBe(false);
    expect(list.size).toBe(1);
    other.add(a);
    expect([list.size, other.size]).toEqual([0, 1]);
  });

  it('can be cut while walking its copy, as the drain does', () => {
    const list = new InFlightList();
    const entries = ['a', 'b', 'c'].map((n, i) => new Entry(n, i === 1));
    for (const e of entries) list.add(e);
    expect([list.count(true), list.count(false)]).toEqual([1, 2]);
    for (const e of list.toArray()) e.cut('timeout');
    expect(list.size).toBe(0);
    expect(entries.map((e) => e.cuts)).toEqual([['timeout'], ['timeout'], ['timeout']]);
  });
});
