import net from 'node:net';
import type { Logger } from 'pino';
import type { Service } from '../service.js';
import type { LimitsConfig, HostPort } from '../config/types.js';
import type { NoticeHub } from '../notify/hub.js';
import { clientScript } from '../notify/client-script.js';
import { NetTransport } from '../upstream/net-transport.js';
import type { Transport } from '../upstream/transport.js';
import { Router } from './router.js';
import { RequestIds } from './headers.js';
import { Deadlines } from './deadlines.js';
import { OwnRoutes } from './own-routes.js';
import { RequestPath, type ProxyObserver } from './request-path.js';
import { Upgrades } from './upgrades.js';
import { H1Server } from './h1/server.js';
import { NodeServer } from './node-server.js';
import { H2Server } from './h2/server.js';
import { tlsVersionOf } from './tls-version.js';
import type { TlsEdge } from '../tls/edge.js';
import { TraceContext, type TraceparentMode } from './trace-context.js';

export type { ProxyObserver } from './request-path.js';

export interface ProxyServerOptions {
  listen: HostPort;
  services: Service[];
  limits: LimitsConfig;
  trustedProxies: string[];
  hub: NoticeHub;
  log: Logger;
  observer?: ProxyObserver;
  /** The transport to upstreams (tests may pass their own); Baton's own `net` one by default. */
  transport?: Transport;
  /** The TLS edge (issue 11): its listener's connections come here by ALPN. */
  tls?: TlsEdge;
  /** W3C traceparent handling (issue 16); `generate` by default. */
  traceparent?: TraceparentMode;
}

/** The secure side (issue 11): HTTP/1.1 over TLS on Baton's own server (node:http for what it declines), and HTTP/2. */
interface SecureSide {
  edge: TlsEdge;
  h1: H1Server;
  node: NodeServer;
  h2: H2Server;
}

/** Handing over: how long a keep-alive connection may stay idle before it is closed. */
const HANDOVER_IDLE_MS = 1000;

function authorityOf(at: HostPort): string {
  return `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
}

/** Services by Host pattern, for the router. */
export function routerOf(services: readonly Service[]): Router<Service> {
  const router = new Router<Service>();
  for (const s of services) for (const h of s.config.hosts) for (const p of s.config.paths) router.add(h, s, p);
  return router;
}

/**
 * The public listener: accepts connections and gives each to Baton's own HTTP/1.1 server
 * (h1/), which hands what its parser declines to node:http (never listening itself: it only
 * gets the connections handed to it). Both turn requests into the same Downstream for the
 * request path, and upgrades into the same UpgradeRequest.
 */
export class ProxyServer {
  readonly #listener: net.Server;
  readonly #h1: H1Server;
  readonly #node: NodeServer;
  readonly #path: RequestPath;
  readonly #upgrades: Upgrades;
  readonly #opts: ProxyServerOptions;
  readonly #log: Logger;
  readonly #limits: LimitsConfig;
  readonly #trusted: Set<string>;
  readonly #secure: SecureSide | undefined;
  readonly #trace: TraceContext;
  readonly #observer: ProxyObserver;

  constructor(opts: ProxyServerOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    // One limits object for the whole request path, updated in place by a reload.
    const l = (this.#limits = { ...opts.limits });
    this.#trusted = new Set(opts.trustedProxies);
    const fallbackAuthority = authorityOf(opts.listen);
    this.#observer = opts.observer ?? {};
    const ctx = {
      transport: opts.transport ?? new NetTransport(),
      deadlines: new Deadlines(),
      limits: l,
      ids: new RequestIds(),
      observer: this.#observer,
      log: opts.log,
      trusted: this.#trusted,
      trace: (this.#trace = new TraceContext(opts.traceparent)),
    };
    this.#path = new RequestPath({ ctx, ownRoutes: new OwnRoutes(clientScript()), fallbackAuthority, ...(opts.tls === undefined ? {} : { edge: opts.tls }) }, routerOf(opts.services));
    this.#upgrades = new Upgrades({ ctx, hub: opts.hub, log: opts.log, router: () => this.#path.router, fallbackAuthority: () => this.#path.fallbackAuthority });
    // How often timeouts are checked (Node's default is 30 s, which would let a slowloris
    // client hold a connection far past headers_timeout).
    const checkIntervalMs = Math.max(100, Math.min(1000, Math.floor(l.headersTimeoutMs / 4)));
    this.#h1 = new H1Server({
      limits: l,
      secure: false,
      checkIntervalMs,
      request: (req) => this.#path.handle(req),
      upgrade: (head, socket, rest) => this.#upgrades.handle({ ...head, remoteAddress: socket.remoteAddress ?? '', secure: false, tlsVersion: undefined }, socket, rest),
      handOff: (socket) => this.#node.server.emit('connection', socket),
      rejected: (socket, status) => this.#observer.rejected?.(socket, false, status),
    });
    this.#node = this.#nodeServer(false, checkIntervalMs);
    this.#listener = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#h1.accept(socket));
    if (opts.tls !== undefined) this.#secure = this.#secureSide(opts.tls, checkIntervalMs);
  }

  /** Baton's HTTP/1.1 server, node:http behind it, and HTTP/2, for the TLS listener's connections. */
  #secureSide(edge: TlsEdge, checkIntervalMs: number): SecureSide {
    const l = this.#limits;
    const node = this.#nodeServer(true, checkIntervalMs);
    const h1 = new H1Server({
      limits: l,
      secure: true,
      checkIntervalMs,
      request: (req) => this.#path.handle(req),
      upgrade: (head, socket, rest) => this.#upgrades.handle({ ...head, remoteAddress: socket.remoteAddress ?? '', secure: true, tlsVersion: tlsVersionOf(socket) }, socket, rest),
      handOff: (socket) => node.server.emit('connection', socket),
      rejected: (socket, status) => this.#observer.rejected?.(socket, true, status),
    });
    const h2 = new H2Server({ limits: { ...l }, secure: true, log: this.#log.child({ protocol: 'h2' }), request: (req) => this.#path.handle(req) });
    return { edge, h1, node, h2 };
  }

  /** Bind the TLS listener (after listen()), or take over `handle` (a self-upgrade); resolves with its address. */
  async listenTls(handle?: net.Server | { fd: number }): Promise<HostPort | undefined> {
    const side = this.#secure;
    if (side === undefined) return undefined;
    return side.edge.listen({ h1: (socket) => side.h1.accept(socket), h2: (socket) => side.h2.accept(socket) }, handle);
  }

  /** node:http for the connections Baton's HTTP/1.1 parser hands off. */
  #nodeServer(secure: boolean, checkIntervalMs: number): NodeServer {
    return new NodeServer({ secure, limits: this.#limits, checkIntervalMs, path: this.#path, upgrades: this.#upgrades, observer: this.#observer, log: this.#log });
  }

  /** Replace the routing table in one assignment (a reload). */
  route(services: readonly Service[]): void {
    this.#path.router = routerOf(services);
  }

  /** New limits and trusted proxies (a reload): they apply to the next request and connection check. */
  reconfigure(limits: LimitsConfig, trustedProxies: readonly string[]): void {
    Object.assign(this.#limits, limits);
    this.#trusted.clear();
    for (const t of trustedProxies) this.#trusted.add(t);
    this.#h1.reconfigure(this.#limits);
    this.#node.reconfigure(limits);
    this.#secure?.node.reconfigure(limits);
    this.#secure?.h1.reconfigure(this.#limits);
    this.#secure?.h2.reconfigure(this.#limits);
  }

  /** A new traceparent setting (a reload): it applies to the next request. */
  setTraceparent(mode: TraceparentMode): void {
    this.#trace.mode = mode;
  }

  /**
   * Start listening; resolves with the bound address (port 0 picks a free one). `fd`: accept on
   * a socket a predecessor handed over (`baton upgrade`) instead of binding one.
   */
  listen(fd?: number): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#listener.once('error', onError);
      const at = fd === undefined ? { port: this.#opts.listen.port, host: this.#opts.listen.host } : { fd };
      this.#listener.listen({ ...at, backlog: 4096 }, () => {
        this.#listener.removeListener('error', onError);
        const a = this.#listener.address();
        const bound = typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : this.#opts.listen;
        this.#path.fallbackAuthority = authorityOf(bound);
        resolve(bound);
      });
    });
  }

  /** The listening sockets, by name, for a successor to take over. */
  listeners(): { public: net.Server; tls?: net.Server } {
    return { public: this.#listener, ...(this.#secure === undefined ? {} : { tls: this.#secure.edge.server }) };
  }

  /**
   * Stop accepting; idle keep-alive connections close now, busy ones after their answer.
   * `handover`: another process accepts on the same socket; connections end after their next
   * answer, or once idle for a second (see H1Server.closeAfterAnswers).
   */
  stopAccepting(opts: { handover?: boolean } = {}): Promise<void> {
    this.#path.stopping = true;
    const closed = [new Promise<void>((resolve) => this.#listener.close(() => resolve()))];
    const secure = this.#secure;
    if (secure !== undefined) closed.push(secure.edge.stopAccepting());
    if (opts.handover === true) {
      this.#h1.closeAfterAnswers(HANDOVER_IDLE_MS);
      secure?.h1.closeAfterAnswers(HANDOVER_IDLE_MS);
    } else {
      this.#h1.closeIdle();
      this.#node.server.closeIdleConnections();
      secure?.h1.closeIdle();
      secure?.node.server.closeIdleConnections();
    }
    // GOAWAY: open streams finish, the client opens a new connection for the next ones (no race).
    secure?.h2.closeIdle();
    return Promise.all(closed).then(() => {});
  }

  /**
   * Connections still open on Baton's own server. (Those node:http took over, rare, are not
   * counted: they end after their next answer, without keep-alive, once stopping.)
   */
  get connections(): number {
    return this.#h1.connections + (this.#secure === undefined ? 0 : this.#secure.h1.connections + this.#secure.h2.sessions);
  }

  /** Cut whatever is still connected. */
  closeAll(): void {
    this.#h1.closeAll();
    this.#node.server.closeAllConnections();
    this.#secure?.h1.closeAll();
    this.#secure?.node.server.closeAllConnections();
    this.#secure?.h2.closeAll();
    this.#secure?.edge.closeAll();
  }
}
