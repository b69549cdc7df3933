import { Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue, type MetricValueWithName } from 'prom-client';
import type { Service } from './service.js';
import type { ProxyObserver } from './proxy/request-path.js';
import type { ExchangeRecord } from './proxy/exchange.js';
import type { HoldOutcome } from './swap/gate.js';

/**
 * Prometheus metrics, on a registry of this Baton instance (no global registry). Gauges are
 * read from the services when scraped. The two metrics every request touches (requests_total,
 * request_duration_seconds) are counted in plain arrays and turned into Prometheus samples only
 * when scraped: prom-client would build a label hash string and a closure per observation,
 * which was ~5% of the proxy's CPU per request (issue 5).
 */
export class Metrics implements ProxyObserver {
  readonly registry = new Registry();
  /** service -> version -> counts. */
  readonly #requests = new Map<string, Map<string, ServiceRequests>>();
  readonly #held: Histogram<'service' | 'outcome'>;
  readonly #swaps: Counter<'service' | 'kind' | 'outcome'>;
  readonly #swapSeconds: Histogram<'service' | 'kind'>;
  readonly #upstreamErrors: Counter<'service' | 'kind'>;
  readonly #migrations: Counter<'service' | 'outcome'>;
  readonly #migrationSeconds: Histogram<'service' | 'outcome'>;

  constructor(services: () => Service[]) {
    const registers = [this.registry];
    const requests = this.#requests;
    this.registry.registerMetric(
      scrapeOnly('baton_requests_total', 'Requests answered, by service, method class and status class.', 'counter', () => {
        const values: MetricValue<string>[] = [];
        for (const [service, versions] of requests) ServiceRequests.sum(versions.values()).countSamples({ service }, values);
        return values;
      }),
    );
    this.registry.registerMetric(
      scrapeOnly('baton_version_requests_total', 'Requests answered, by service, version (a canary apart from the rest) and status class.', 'counter', () => {
        const values: MetricValue<string>[] = [];
        for (const [service, versions] of requests) for (const [version, r] of versions) r.countSamples({ service, version }, values);
        return values;
      }),
    );
    this.registry.registerMetric(
      scrapeOnly('baton_request_duration_seconds', 'Time from request arrival to the end of the response, hold included.', 'histogram', () => {
        const values: MetricValueWithName<string>[] = [];
        for (const [service, versions] of requests) ServiceRequests.sum(versions.values()).durationSamples('baton_request_duration_seconds', service, values);
        return values;
      }),
    );
    this.#held = new Histogram({ name: 'baton_hold_seconds', help: 'Time requests waited at the hold gate, by outcome.', labelNames: ['service', 'outcome'], buckets: [0.0001, 0.001, 0.01, 0.1, 1, 10], registers });
    this.#swaps = new Counter({ name: 'baton_swaps_total', help: 'Deploys and rollbacks, by outcome.', labelNames: ['service', 'kind', 'outcome'], registers });
    this.#swapSeconds = new Histogram({ name: 'baton_swap_duration_seconds', help: 'Wall time of successful swaps, start to old version stopped.', labelNames: ['service', 'kind'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers });
    this.#upstreamErrors = new Counter({ name: 'baton_upstream_errors_total', help: 'Upstream failures by kind (refused, reset, timeout, aborted_response, retry).', labelNames: ['service', 'kind'], registers });
    this.#migrations = new Counter({ name: 'baton_migrations_total', help: 'Migrations run by deploys, by outcome.', labelNames: ['service', 'outcome'], registers });
    this.#migrationSeconds = new Histogram({ name: 'baton_migration_duration_seconds', help: 'Time migrations took, by outcome.', labelNames: ['service', 'outcome'], buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300], registers });
    new Gauge({
      name: 'baton_inflight_requests',
      help: 'Requests in flight to upstreams, per service.',
      labelNames: ['service'],
      registers,
      collect() {
        for (const s of services()) this.set({ service: s.name }, s.status().inflight);
      },
    });
    new Gauge({
      name: 'baton_held_requests',
      help: 'Requests waiting at the hold gate, per service.',
      labelNames: ['service'],
      registers,
      collect() {
        for (const s of services()) this.set({ service: s.name }, s.gate.queued);
      },
    });
    new Gauge({
      name: 'baton_instance_inflight_requests',
      help: 'Requests in flight per instance (address) of each version.',
      labelNames: ['service', 'version', 'address'],
      registers,
      collect() {
        this.reset();
        for (const s of services()) for (const r of s.releases()) for (const u of r.upstreams) this.set({ service: s.name, version: r.version, address: u.address }, u.inflight);
      },
    });
    new Gauge({
      name: 'baton_instance_up',
      help: '1 when an instance is in the rotation (running, healthy, not ejected), else 0.',
      labelNames: ['service', 'version', 'address'],
      registers,
      collect() {
        this.reset();
        for (const s of services()) for (const r of s.releases()) for (const u of r.upstreams) this.set({ service: s.name, version: r.version, address: u.address }, u.available ? 1 : 0);
      },
    });
    new Gauge({
      name: 'baton_instance_restarts',
      help: 'Times an instance was replaced after it exited on its own (supervision).',
      labelNames: ['service', 'version', 'address'],
      registers,
      collect() {
        this.reset();
        for (const s of services()) for (const r of s.releases()) for (const u of r.upstreams) this.set({ service: s.name, version: r.version, address: u.address }, u.restarts);
      },
    });
    new Gauge({
      name: 'baton_websockets',
      help: 'Proxied WebSockets open, per service.',
      labelNames: ['service'],
      registers,
      collect() {
        for (const s of services()) this.set({ service: s.name }, s.status().websockets);
      },
    });
  }

  requestFinished(x: ExchangeRecord): void {
    let versions = this.#requests.get(x.service);
    if (versions === undefined) this.#requests.set(x.service, (versions = new Map()));
    const version = x.upstream?.version ?? 'none';
    let r = versions.get(version);
    if (r === undefined) versions.set(version, (r = new ServiceRequests()));
    r.record(methodClass(x.method), x.status, x.durationMs / 1000);
  }

  held(service: string, outcome: HoldOutcome, ms: number): void {
    this.#held.observe({ service, outcome }, ms / 1000);
  }

  upstreamError(service: string, kind: string): void {
    this.#upstreamErrors.inc({ service, kind });
  }

  swapped(service: string, kind: string, ok: boolean, ms: number): void {
    this.#swaps.inc({ service, kind, outcome: ok ? 'ok' : 'failed' });
    if (ok) this.#swapSeconds.observe({ service, kind }, ms / 1000);
  }

  migrated(service: string, ok: boolean, ms: number): void {
    const outcome = ok ? 'ok' : 'failed';
    this.#migrations.inc({ service, outcome });
    this.#migrationSeconds.observe({ service, outcome }, ms / 1000);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

const METHOD_CLASSES = ['read', 'write', 'other'] as const;
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Index into METHOD_CLASSES. */
function methodClass(method: string): number {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 0;
    case 'POST':
    case 'PUT':
    case 'PATCH':
    case 'DELETE':
      return 1;
    default:
      return 2;
  }
}

/** Requests of one service: counts by method and status class, and the duration histogram. */
class ServiceRequests {
  /** [method class * 5 + status class] */
  readonly #counts = new Float64Array(METHOD_CLASSES.length * STATUS_CLASSES.length);
  /** Per bucket (not cumulative); the last slot is +Inf. */
  readonly #buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  #sum = 0;
  #count = 0;

  record(method: number, status: number, seconds: number): void {
    const cls = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    this.#counts[method * STATUS_CLASSES.length + cls]!++;
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    this.#buckets[b]!++;
    this.#sum += seconds;
    this.#count++;
  }

  /** The counts of several, added up (a service across its versions). */
  static sum(all: Iterable<ServiceRequests>): ServiceRequests {
    const total = new ServiceRequests();
    for (const r of all) {
      for (let i = 0; i < r.#counts.length; i++) total.#counts[i]! += r.#counts[i]!;
      for (let i = 0; i < r.#buckets.length; i++) total.#buckets[i]! += r.#buckets[i]!;
      total.#sum += r.#sum;
      total.#count += r.#count;
    }
    return total;
  }

  countSamples(labels: { service: string; version?: string }, into: MetricValue<string>[]): void {
    for (let m = 0; m < METHOD_CLASSES.length; m++) {
      for (let c = 0; c < STATUS_CLASSES.length; c++) {
        const value = this.#counts[m * STATUS_CLASSES.length + c]!;
        if (value > 0) into.push({ value, labels: { ...labels, method: METHOD_CLASSES[m]!, code: STATUS_CLASSES[c]! } });
      }
    }
  }

  /** The samples prom-client's Histogram would give: cumulative buckets, +Inf, sum, count. */
  durationSamples(name: string, service: string, into: MetricValueWithName<string>[]): void {
    let acc = 0;
    for (let b = 0; b < DURATION_BUCKETS.length; b++) {
      acc += this.#buckets[b]!;
      into.push({ value: acc, labels: { le: DURATION_BUCKETS[b]!, service }, metricName: `${name}_bucket` });
    }
    into.push({ value: this.#count, labels: { le: '+Inf', service }, metricName: `${name}_bucket` });
    into.push({ value: this.#sum, labels: { service }, metricName: `${name}_sum` });
    into.push({ value: this.#count, labels: { service }, metricName: `${name}_count` });
  }
}

/**
 * A metric whose samples are computed when scraped, in the shape prom-client's registry reads
 * from its own metrics (`get()` -> name, help, type, values).
 */
function scrapeOnly(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue<string>[]): Parameters<Registry['registerMetric']>[0] {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: (): Promise<MetricObjectWithValues<MetricValue<string>>> => Promise.resolve({ name, help, type, values: values(), aggregator: 'sum' } as unknown as MetricObjectWithValues<MetricValue<string>>),
    reset: (): void => {},
  };
  return metric as unknown as Parameters<Registry['registerMetric']>[0];
}
