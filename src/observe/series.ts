/**
 * The dashboard's time series (issue 16): per service, one point a second over the last ten
 * minutes: requests per second, the share answered 5xx, p50 and p99 latency, and the held
 * requests, WebSockets and requests in flight at that moment. Requests are counted into the
 * current second's counters and a small log-scale latency histogram (no clock read, no
 * allocation per request); `tick()` closes the second into a ring of points.
 */
import type { ExchangeRecord } from '../proxy/exchange-state.js';

/** Points kept per service: ten minutes at one a second. */
export const SERIES_POINTS = 600;

/** Latency bins: 0.01 ms, then x1.15 each, up to ~170 s in the last. */
const BIN_BASE_MS = 0.01;
const BIN_GROWTH = 1.15;
const BINS = 128;
const LOG_GROWTH = Math.log(BIN_GROWTH);

function binOf(ms: number): number {
  if (!(ms > BIN_BASE_MS)) return 0;
  return Math.min(BINS - 1, 1 + Math.floor(Math.log(ms / BIN_BASE_MS) / LOG_GROWTH));
}

/** A bin's representative value: the geometric middle of its bounds. */
function valueOf(bin: number): number {
  return bin === 0 ? BIN_BASE_MS : BIN_BASE_MS * BIN_GROWTH ** (bin - 0.5);
}

/** What a service has at the moment of a tick (from its status). */
export interface Gauges {
  held: number;
  websockets: number;
  inflight: number;
}

/** One second of one service. Latencies in ms, null when no request ended in that second. */
export interface SeriesPoint {
  /** Epoch ms of the tick that closed the second. */
  t: number;
  rps: number;
  /** Share of requests answered 5xx (by the app or by Baton), 0 to 1. */
  error_rate: number;
  p50_ms: number | null;
  p99_ms: number | null;
  held: number;
  websockets: number;
  inflight: number;
}

/** `GET /v1/series`: columns per service, oldest first. */
export interface SeriesBody {
  interval_ms: number;
  services: Record<string, { [K in keyof SeriesPoint]: Array<SeriesPoint[K]> }>;
}

class ServiceSeries {
  count = 0;
  errors = 0;
  readonly bins = new Uint32Array(BINS);
  readonly points: SeriesPoint[] = [];

  record(status: number, ms: number): void {
    this.count++;
    if (status >= 500) this.errors++;
    this.bins[binOf(ms)]!++;
  }

  close(t: number, elapsedS: number, g: Gauges): SeriesPoint {
    const point: SeriesPoint = {
      t,
      rps: round(this.count / elapsedS, 1),
      error_rate: this.count === 0 ? 0 : round(this.errors / this.count, 4),
      p50_ms: this.#quantile(0.5),
      p99_ms: this.#quantile(0.99),
      held: g.held,
      websockets: g.websockets,
      inflight: g.inflight,
    };
    this.count = 0;
    this.errors = 0;
    this.bins.fill(0);
    this.points.push(point);
    if (this.points.length > SERIES_POINTS) this.points.shift();
    return point;
  }

  #quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let b = 0; b < BINS; b++) {
      seen += this.bins[b]!;
      if (seen >= rank) return round(valueOf(b), 3);
    }
    return round(valueOf(BINS - 1), 3);
  }
}

export class Series {
  readonly #services = new Map<string, ServiceSeries>();
  #lastTick: number | undefined;

  /** A ProxyObserver hook: count the request into its service's current second. */
  requestFinished(x: ExchangeRecord): void {
    let s = this.#services.get(x.service);
    if (s === undefined) this.#services.set(x.service, (s = new ServiceSeries()));
    s.record(x.status, x.durationMs);
  }

  /**
   * Close the current second of every service in `gauges` (services gone are forgotten) and
   * return the new points.
   */
  tick(now: number, gauges: ReadonlyMap<string, Gauges>): Record<string, SeriesPoint> {
    const elapsedS = this.#lastTick === undefined ? 1 : Math.max(0.001, (now - this.#lastTick) / 1000);
    this.#lastTick = now;
    for (const name of this.#services.keys()) if (!gauges.has(name)) this.#services.delete(name);
    const out: Record<string, SeriesPoint> = {};
    for (const [name, g] of gauges) {
      let s = this.#services.get(name);
      if (s === undefined) this.#services.set(name, (s = new ServiceSeries()));
      out[name] = s.close(now, elapsedS, g);
    }
    return out;
  }

  /** The points of every service of `names` (none yet for one not ticked), as columns. */
  body(names: Iterable<string>): SeriesBody {
    const services: SeriesBody['services'] = {};
    for (const name of names) {
      const pts = this.#services.get(name)?.points ?? [];
      services[name] = {
        t: pts.map((p) => p.t),
        rps: pts.map((p) => p.rps),
        error_rate: pts.map((p) => p.error_rate),
        p50_ms: pts.map((p) => p.p50_ms),
        p99_ms: pts.map((p) => p.p99_ms),
        held: pts.map((p) => p.held),
        websockets: pts.map((p) => p.websockets),
        inflight: pts.map((p) => p.inflight),
      };
    }
    return { interval_ms: 1000, services };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
