import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Service } from './service.js';
import type { ProxyObserver } from './proxy/server.js';
import type { HoldOutcome } from './swap/gate.js';

/**
 * Prometheus metrics, on a registry of this Baton instance (no global registry). Gauges are
 * read from the services when scraped, so the request path only touches counters/histograms.
 */
export class Metrics implements ProxyObserver {
  readonly registry = new Registry();
  readonly #requests: Counter<'service' | 'method' | 'code'>;
  readonly #duration: Histogram<'service'>;
  readonly #held: Histogram<'service' | 'outcome'>;
  readonly #swaps: Counter<'service' | 'kind' | 'outcome'>;
  readonly #swapSeconds: Histogram<'service' | 'kind'>;
  readonly #upstreamErrors: Counter<'service' | 'kind'>;

  constructor(services: () => Service[]) {
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'baton_requests_total', help: 'Requests answered, by service, method class and status class.', labelNames: ['service', 'method', 'code'], registers });
    this.#duration = new Histogram({
      name: 'baton_request_duration_seconds',
      help: 'Time from request arrival to the end of the response, hold included.',
      labelNames: ['service'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.#held = new Histogram({ name: 'baton_hold_seconds', help: 'Time requests waited at the hold gate, by outcome.', labelNames: ['service', 'outcome'], buckets: [0.0001, 0.001, 0.01, 0.1, 1, 10], registers });
    this.#swaps = new Counter({ name: 'baton_swaps_total', help: 'Deploys and rollbacks, by outcome.', labelNames: ['service', 'kind', 'outcome'], registers });
    this.#swapSeconds = new Histogram({ name: 'baton_swap_duration_seconds', help: 'Wall time of successful swaps, start to old version stopped.', labelNames: ['service', 'kind'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers });
    this.#upstreamErrors = new Counter({ name: 'baton_upstream_errors_total', help: 'Upstream failures by kind (refused, reset, timeout, aborted_response, retry).', labelNames: ['service', 'kind'], registers });
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
      name: 'baton_websockets',
      help: 'Proxied WebSockets open, per service.',
      labelNames: ['service'],
      registers,
      collect() {
        for (const s of services()) this.set({ service: s.name }, s.status().websockets);
      },
    });
  }

  requestFinished(service: string, method: string, status: number, seconds: number): void {
    this.#requests.inc({ service, method: methodClass(method), code: `${Math.floor(status / 100)}xx` });
    this.#duration.observe({ service }, seconds);
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

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function methodClass(method: string): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'POST':
    case 'PUT':
    case 'PATCH':
    case 'DELETE':
      return 'write';
    default:
      return 'other';
  }
}
