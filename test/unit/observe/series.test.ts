import { describe, expect, it } from 'vitest';
import { Series, SERIES_POINTS } from '../../../src/observe/series.js';
import type { ExchangeRecord } from '../../../src/proxy/exchange-state.js';

const rec = (service: string, status: number, durationMs: number): ExchangeRecord => ({ service, status, durationMs }) as ExchangeRecord;
const gauges = (names: string[]) => new Map(names.map((n) => [n, { held: 2, websockets: 1, inflight: 3 }]));

describe('Series', () => {
  it('closes a second into rps, error rate and p50/p99 within a bin (15%)', () => {
    const s = new Series();
    s.tick(0, gauges(['web']));
    for (let i = 1; i <= 100; i++) s.requestFinished(rec('web', i <= 5 ? 502 : 200, i));
    const p = s.tick(2000, gauges(['web'])).web!;
    expect(p.rps).toBe(50);
    expect(p.error_rate).toBe(0.05);
    expect(Math.abs(p.p50_ms! - 50) / 50).toBeLessThan(0.15);
    expect(Math.abs(p.p99_ms! - 99) / 99).toBeLessThan(0.15);
    expect(p).toMatchObject({ held: 2, websockets: 1, inflight: 3 });
  });

  it('gives null latencies for a second without requests, and starts the next second empty', () => {
    const s = new Series();
    s.requestFinished(rec('web', 200, 1));
    s.tick(1000, gauges(['web']));
    const p = s.tick(2000, gauges(['web'])).web!;
    expect(p).toMatchObject({ rps: 0, error_rate: 0, p50_ms: null, p99_ms: null });
  });

  it('keeps ten minutes of points per service and forgets services that are gone', () => {
    const s = new Series();
    for (let t = 0; t < SERIES_POINTS + 50; t++) s.tick(t * 1000, gauges(['web', 'api']));
    const body = s.body(['web', 'api', 'new']);
    expect(body.services.new!.t).toEqual([]);
    expect(body.services.web!.t).toHaveLength(SERIES_POINTS);
    expect(body.services.web!.t.at(-1)).toBe((SERIES_POINTS + 49) * 1000);
    s.tick(1e9, gauges(['web']));
    expect(s.body(['web', 'api']).services.api!.t).toEqual([]);
  });
});
