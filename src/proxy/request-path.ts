/**
 * What happens to a request from a client, whichever connection carried it: Baton's own
 * routes, routing to a service (router.ts), the limits that need no exchange, then an exchange
 * (exchange.ts) that takes it to the end. WebSocket upgrades go to upgrades.ts.
 */
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/types.js';
import type { Service } from '../service.js';
import type { HoldOutcome } from '../swap/gate.js';
import type { Transport } from '../upstream/transport.js';
import type { Downstream } from './downstream.js';
import type { Deadlines } from './deadlines.js';
import { Exchange, type ExchangeRecord } from './exchange.js';
import { sendError } from './error-pages.js';
import type { RequestIds } from './headers.js';
import type { OwnRoutes } from './own-routes.js';
import type { Router } from './router.js';
import { hstsValue } from '../config/tls-schema.js';
import { HstsDownstream } from '../tls/hsts.js';
import type { TraceContext } from './trace-context.js';
import type { UpgradeRecord } from './upgrades.js';
import type { Duplex } from 'node:stream';

/** What the data plane reports (metrics, access log). All optional so tests can leave them out. */
export interface ProxyObserver {
  requestFinished?(record: ExchangeRecord): void;
  held?(service: string, outcome: HoldOutcome, ms: number): void;
  upstreamError?(service: string, kind: string): void;
  /** A WebSocket (or a refused or failed upgrade) ended (access log). */
  upgradeFinished?(record: UpgradeRecord): void;
  /** A request answered before it reached a service (no route, too many headers, too large; the TLS edge's redirect or ACME token) (access log). */
  refused?(req: Downstream, status: number, kind: string, requestId: string): void;
  /**
   * Bytes refused on a connection before they were a request Baton could serve: the parsers'
   * 400, 414, 431 and 505, a head or body too slow (408), CONNECT (405) (access log).
   */
  rejected?(socket: Duplex, secure: boolean, status: number): void;
}

/** What every exchange shares: the request path's tools and settings. */
export interface ExchangeContext {
  readonly transport: Transport;
  readonly deadlines: Deadlines;
  readonly limits: LimitsConfig;
  readonly ids: RequestIds;
  readonly observer: ProxyObserver;
  readonly log: Logger;
  /** Client addresses whose X-Forwarded-* are kept. */
  readonly trusted: ReadonlySet<string>;
  /** W3C traceparent: forwarded, generated (issue 16). */
  readonly trace: TraceContext;
}

export interface RequestPathOptions {
  ctx: ExchangeContext;
  ownRoutes: OwnRoutes;
  /** The Host sent upstream for a request that named none (HTTP/1.0): the listener's address. */
  fallbackAuthority: string;
  /** The TLS edge's part in plain requests (issue 11: ACME HTTP-01 answers, the redirect to https). */
  edge?: EdgeHooks;
}

/** How the TLS edge answered a plain-HTTP request itself. */
export interface EdgeAnswer {
  status: number;
  kind: 'acme_challenge' | 'redirect_https';
}

/** What the TLS edge adds to plain-HTTP requests (src/tls/edge.ts). */
export interface EdgeHooks {
  /** What the edge answered (an ACME token, a 308 to https), or undefined when it left the request alone. */
  plainRequest(req: Downstream): EdgeAnswer | undefined;
}

export class RequestPath {
  readonly #ctx: ExchangeContext;
  readonly #ownRoutes: OwnRoutes;
  readonly #edge: EdgeHooks | undefined;
  #router: Router<Service>;
  /** Stopping: every answer closes its connection. */
  stopping = false;
  /** The Host sent upstream for a request that named none: the listener's address, once bound. */
  fallbackAuthority: string;

  constructor(opts: RequestPathOptions, router: Router<Service>) {
    this.#ctx = opts.ctx;
    this.#ownRoutes = opts.ownRoutes;
    this.#edge = opts.edge;
    this.fallbackAuthority = opts.fallbackAuthority;
    this.#router = router;
  }

  get router(): Router<Service> {
    return this.#router;
  }

  /** The routing table is replaced in one assignment (a reload). */
  set router(router: Router<Service>) {
    this.#router = router;
  }

  handle(req: Downstream): void {
    if (this.stopping) req.closeAfterResponse();
    if (!req.secure && this.#edge !== undefined) {
      const answered = this.#edge.plainRequest(req); // issue 11
      if (answered !== undefined) return this.#ctx.observer.refused?.(req, answered.status, answered.kind, this.#ctx.ids.of(req.headers));
    }
    if (req.path.startsWith('/_baton/')) return this.#ownRoutes.serve(req);
    const route = this.#router.match(req.authority, req.path);
    if (route === undefined) return this.#refuse(req, 'no_route');
    const service = route.value;
    const hsts = service.config.hsts;
    if (req.secure && hsts !== undefined) req = new HstsDownstream(req, hstsValue(hsts)); // issue 11
    const limits = this.#ctx.limits;
    if (req.headers.length > limits.maxHeadersCount * 2) return this.#refuse(req, 'too_many_headers');
    if (limits.maxBodyBytes > 0 && req.body.kind === 'length' && req.body.length > limits.maxBodyBytes) return this.#refuse(req, 'payload_too_large');
    new Exchange(this.#ctx, req, service, { authority: req.authority ?? this.fallbackAuthority, prefix: route.prefix }).start();
  }

  #refuse(req: Downstream, kind: 'no_route' | 'too_many_headers' | 'payload_too_large'): void {
    const requestId = this.#ctx.ids.of(req.headers);
    const status = sendError(req, kind, requestId);
    this.#ctx.observer.refused?.(req, status, kind, requestId);
  }
}
