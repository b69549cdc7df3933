import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Service } from '../service.js';
import type { LimitsConfig, HostPort } from '../config/types.js';
import type { NoticeHub } from '../notify/hub.js';
import { clientScript } from '../notify/client-script.js';
import { Router } from './router.js';
import { RequestIds, requestIdOf, upstreamHeaders, type ForwardedContext } from './headers.js';
import { sendError, statusFor, type ProxyErrorKind } from './error-pages.js';
import type { Forwarder, WebJob, UpstreamErrorKind } from './forwarder.js';
import { Upgrades } from './upgrades.js';
import { OwnRoutes, pathOf, rawError } from './own-routes.js';
import { BodyLimit } from './body-limit.js';
import { NodeForwarder } from './forward-node.js';
import { injectClientScript } from './inject.js';
import type { HoldOutcome } from '../swap/gate.js';
import type { Exchange } from '../upstream/exchange.js';
import { LeanListener } from './lean/listener.js';
import type { LeanRequest } from './lean/request.js';
import type { LeanResponse } from './lean/response.js';

/** What the data plane reports (metrics, logs). All optional so tests can leave them out. */
export interface ProxyObserver {
  requestFinished?(service: string, method: string, status: number, seconds: number): void;
  held?(service: string, outcome: HoldOutcome, ms: number): void;
  upstreamError?(service: string, kind: UpstreamErrorKind | 'retry'): void;
}

export interface ProxyServerOptions {
  listen: HostPort;
  services: Service[];
  limits: LimitsConfig;
  trustedProxies: string[];
  hub: NoticeHub;
  log: Logger;
  makeForwarder: (hooks: { onRetry(job: WebJob, err: Error): void; onError(job: WebJob, kind: UpstreamErrorKind, err: Error): void }) => Forwarder;
  observer?: ProxyObserver;
}

interface Job extends WebJob {
  service: Service;
  started: number;
}

// Per-request data the shared listeners below read off the response: no closure per request.
const kExchange = Symbol('baton.exchange');
const kService = Symbol('baton.service');
const kStarted = Symbol('baton.started');
interface TrackedResponse extends http.ServerResponse {
  [kExchange]?: Exchange;
  [kService]?: string;
  [kStarted]?: number;
}

/** The request's response closed: its exchange is over (finish() is idempotent). */
function resOnCloseFinishExchange(this: TrackedResponse): void {
  this[kExchange]?.finish();
}


/**
 * The public HTTP listener: routes each request by Host to its service, waits at the
 * service's gate while it is held, and forwards to whatever upstream is active at that moment.
 */
export class ProxyServer {
  readonly #server: http.Server;
  readonly #router = new Router<Service>();
  readonly #opts: ProxyServerOptions;
  readonly #forwarder: Forwarder;
  /** For `notify.inject` services when #forwarder cannot rewrite bodies (issue 4); made on first use. */
  #injector: Forwarder | undefined;
  readonly #ids = new RequestIds();
  readonly #trusted: Set<string>;
  readonly #log: Logger;
  readonly #obs: ProxyObserver;
  readonly #ownRoutes: OwnRoutes;
  /** The metrics hook on 'finish', made once (undefined when the observer does not count requests). */
  readonly #resOnFinish: ((this: TrackedResponse) => void) | undefined;
  /** The fast path for plain requests (lean/listener.ts); undefined with forwarders that need node:http's objects. */
  readonly #lean: LeanListener | undefined;
  #stopping = false;

  constructor(opts: ProxyServerOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#obs = opts.observer ?? {};
    const obs = this.#obs;
    this.#resOnFinish =
      obs.requestFinished === undefined
        ? undefined
        : function resOnFinishObserve(this: TrackedResponse): void {
            obs.requestFinished!(this[kService]!, this.req.method ?? 'GET', this.statusCode, (performance.now() - this[kStarted]!) / 1000);
          };
    this.#trusted = new Set(opts.trustedProxies);
    this.#ownRoutes = new OwnRoutes(clientScript());
    for (const s of opts.services) for (const h of s.config.hosts) this.#router.add(h, s);
    this.#forwarder = opts.makeForwarder({
      onRetry: (job, err) => this.#retry(job as Job, err),
      onError: (job, kind, err) => this.#upstreamError(job as Job, kind, err),
    });
    const l = opts.limits;
    // How often headers/request timeouts are checked (Node's default is 30 s, which would let
    // a slowloris client hold a connection far past headers_timeout).
    const connectionsCheckingInterval = Math.max(100, Math.min(1000, Math.floor(l.headersTimeoutMs / 4)));
    this.#server = http.createServer({
      keepAlive: true,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      maxHeaderSize: l.maxHeaderSize,
      noDelay: true,
      connectionsCheckingInterval,
    });
    // Node silently drops headers past maxHeadersCount; keep one more so we can tell and refuse.
    this.#server.maxHeadersCount = l.maxHeadersCount + 1;
    this.#server.on('request', this.#onRequest);
    const upgrades = new Upgrades({
      router: this.#router,
      hub: opts.hub,
      log: opts.log,
      upstreamHeadersTimeoutMs: l.upstreamHeadersTimeoutMs,
      requestId: (req) => requestIdOf(req, this.#ids),
      forwarded: (req, id) => this.#forwardedContext(req, id),
    });
    this.#server.on('upgrade', upgrades.handle);
    this.#server.on('clientError', this.#onClientError);
    this.#lean =
      this.#forwarder.servesLean === true
        ? LeanListener.inFrontOf(this.#server, { limits: l, checkIntervalMs: connectionsCheckingInterval, serve: this.#serveLean })
        : undefined;
  }

  get forwarderName(): string {
    return this.#forwarder.name;
  }

  /** Start listening; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#opts.listen.port, this.#opts.listen.host, () => {
        this.#server.removeListener('error', onError);
        const a = this.#server.address();
        resolve(typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : this.#opts.listen);
      });
    });
  }

  /** Stop accepting; idle keep-alive connections close now, busy ones after their response. */
  stopAccepting(): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    this.#lean?.closeIdle();
    return closed;
  }

  /** Cut whatever is still connected. */
  closeAll(): void {
    this.#server.closeAllConnections();
    this.#lean?.closeAll();
  }

  #onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = req.url ?? '/';
    if (url.startsWith('/_baton/')) return this.#ownRoutes.serve(req, res, url);
    this.#route(req, res, url, this.#router.match(req.headers.host));
  };

  /**
   * A request from the lean path. Its objects offer what #route, the error pages and the net
   * forwarder use of node:http's (checked at compile time in lean/stand-in.ts); Baton's own
   * routes and `notify.inject` services, which need node:http's, are declined and go to it.
   */
  #serveLean = (req: LeanRequest, res: LeanResponse): boolean => {
    if (req.url.startsWith('/_baton/')) return false;
    const service = this.#router.match(req.headers.host);
    if (service !== undefined && service.config.notify.inject) return false;
    this.#route(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse, req.url, service);
    return true;
  };

  #route(req: http.IncomingMessage, res: http.ServerResponse, url: string, service: Service | undefined): void {
    if (this.#stopping) res.shouldKeepAlive = false;
    if (service === undefined) return this.#answer(res, 'no_route', undefined, req);
    if (req.rawHeaders.length > this.#opts.limits.maxHeadersCount * 2) return this.#answer(res, 'too_many_headers', service, req);
    const max = this.#opts.limits.maxBodyBytes;
    if (max > 0 && Number(req.headers['content-length'] ?? 0) > max) return this.#answer(res, 'payload_too_large', service, req);
    const started = performance.now();
    if (this.#resOnFinish !== undefined) {
      (res as TrackedResponse)[kService] = service.name;
      (res as TrackedResponse)[kStarted] = started;
      res.on('finish', this.#resOnFinish);
    }
    const gate = service.gate;
    if (gate.open) return this.#dispatch(service, req, res, started, true);

    // Held. The health path still answers, so an outer load balancer keeps Baton in.
    if ((req.method === 'GET' || req.method === 'HEAD') && pathOf(url) === service.config.health.path) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3, 'x-baton-held': '1' });
      res.end(req.method === 'HEAD' ? undefined : 'ok\n');
      return;
    }
    const ticket = gate.enqueue({
      settle: (outcome, ms) => {
        res.removeListener('close', withdraw);
        this.#obs.held?.(service.name, outcome, ms);
        if (outcome === 'timed_out') this.#answer(res, 'hold_timeout', service, req);
        else this.#dispatch(service, req, res, started, true); // released, or Baton stopping
      },
    });
    if (ticket === 'overflow') {
      this.#obs.held?.(service.name, 'overflow', 0);
      return this.#answer(res, 'hold_overflow', service, req);
    }
    // A client that gives up while held leaves the queue and is never forwarded.
    const withdraw = (): void => ticket.withdraw();
    res.once('close', withdraw);
  }

  #dispatch(service: Service, req: http.IncomingMessage, res: http.ServerResponse, started: number, mayRetry: boolean, requestId?: string): void {
    if (res.destroyed) return;
    const upstream = service.active;
    const id = requestId ?? requestIdOf(req, this.#ids);
    if (upstream === undefined) return this.#answer(res, 'no_upstream', service, req, id);
    const exchange = upstream.begin();
    // A retry re-points the listener of the first attempt to the new exchange.
    if ((res as TrackedResponse)[kExchange] === undefined) res.on('close', resOnCloseFinishExchange);
    (res as TrackedResponse)[kExchange] = exchange;
    const job: Job = {
      req,
      res,
      target: upstream,
      headers: upstreamHeaders(req.headers, this.#forwardedContext(req, id)),
      exchange,
      requestId: id,
      headersTimeoutMs: this.#opts.limits.upstreamHeadersTimeoutMs,
      mayRetry,
      service,
      started,
    };
    // A body of unannounced size (chunked) is counted as it streams; over the limit: 413.
    const max = this.#opts.limits.maxBodyBytes;
    if (max > 0 && req.headers['transfer-encoding'] !== undefined) job.body = req.pipe(new BodyLimit(max));
    // Issue 4 (notify.inject): add the client script tag to HTML pages. Only a forwarder that
    // honours rewriteResponse may carry it; any other hands these services to the node forwarder.
    let forwarder = this.#forwarder;
    if (service.config.notify.inject) {
      job.rewriteResponse = injectClientScript;
      if (forwarder.rewritesResponses !== true) {
        forwarder = this.#injector ??= new NodeForwarder({
          onRetry: (j, err) => this.#retry(j as Job, err),
          onError: (j, kind, err) => this.#upstreamError(j as Job, kind, err),
        });
      }
    }
    forwarder.web(job);
  }

  /** Refused or reset before anything was sent: once more, to the service's current upstream. */
  #retry(job: Job, err: Error): void {
    job.exchange.finish();
    this.#obs.upstreamError?.(job.service.name, 'retry');
    this.#log.debug({ service: job.service.name, request_id: job.requestId, err: err.message }, 'request retried');
    this.#dispatch(job.service, job.req, job.res, job.started, false, job.requestId);
  }

  #upstreamError(job: Job, kind: UpstreamErrorKind, err: Error): void {
    this.#obs.upstreamError?.(job.service.name, kind);
    this.#log.warn(
      { service: job.service.name, request_id: job.requestId, kind, version: job.service.active?.version, upstream: `${job.target.host}:${job.target.port}`, err: err.message },
      'upstream request failed',
    );
  }

  #onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.#log.debug({ code: err.code, reason: err.message }, 'bad request from client');
    rawError(socket, status, err.code);
  };

  #answer(res: http.ServerResponse, kind: ProxyErrorKind, service: Service | undefined, req: http.IncomingMessage, id?: string): void {
    req.resume(); // discard an unread body so the connection can be reused
    if (statusFor(kind) >= 500) this.#log.debug({ service: service?.name, kind }, 'request answered by baton');
    sendError(res, kind, id);
  }

  #forwardedContext(req: http.IncomingMessage, requestId: string): ForwardedContext {
    const remoteAddress = (req.socket as Socket).remoteAddress ?? '';
    return { remoteAddress, trusted: this.#trusted.has(remoteAddress), proto: 'http', requestId };
  }
}
