import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Service } from '../service.js';
import type { NoticeHub } from '../notify/hub.js';
import type { HoldOutcome, Waiter } from '../swap/gate.js';
import { ReadBuffers } from '../upstream/read-buffers.js';
import type { ExchangeContext } from './request-path.js';
import { pathOf, stripPrefix, type Route, type Router } from './router.js';
import { fieldValue, lastFieldValue, upstreamHeaders } from './headers.js';
import { clientAddress } from './client-address.js';
import type { Upstream } from '../upstream/upstream.js';
import { Handshake } from './websocket/handshake.js';
import { NOTICE_WS_PATH } from './own-routes.js';
import { rawError } from './raw-error.js';
import { CANARY_COOKIE_PREFIX, cookieValue, sideOf } from './canary.js';

/** A WebSocket handshake request, whichever connection carried it. */
export interface UpgradeRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string | undefined;
  readonly headers: readonly string[];
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** The TLS version of the connection (`TLSv1.3`); undefined over plain HTTP. */
  readonly tlsVersion: string | undefined;
}

/** What the end of a WebSocket (or of an upgrade refused or failed) reports: the access log's line. */
export interface UpgradeRecord {
  readonly service: string;
  readonly method: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly requestId: string;
  /** 101 for a WebSocket that opened; the app's status when it refused; Baton's when it answered. */
  readonly status: number;
  readonly outcome: 'ok' | 'cut_by_drain' | 'refused' | `upstream_error:${string}` | `baton:${string}`;
  readonly durationMs: number;
  readonly heldMs: number;
  /** Bytes read from and written to the client's connection, handshake included. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly upstream: Upstream | undefined;
  readonly remoteAddress: string;
  readonly clientAddress: string;
  readonly userAgent: string | undefined;
  readonly secure: boolean;
  readonly tlsVersion: string | undefined;
  readonly traceparent: string | undefined;
}

export interface UpgradesOptions {
  ctx: ExchangeContext;
  hub: NoticeHub;
  log: Logger;
  router: () => Router<Service>;
  fallbackAuthority: () => string;
}

/**
 * Upgrade requests on the public listener: Baton's own notice socket, or a WebSocket handshake
 * for a service, which waits at the service's gate while it is held (as plain requests do) and
 * then goes to whatever upstream is active.
 */
export class Upgrades {
  readonly #opts: UpgradesOptions;
  /** The read buffers of every tunnel's upstream side. */
  readonly #buffers = new ReadBuffers();

  constructor(opts: UpgradesOptions) {
    this.#opts = opts;
  }

  handle(req: UpgradeRequest, socket: Duplex, rest: Buffer): void {
    socket.on('error', ignore);
    const route = this.#opts.router().match(req.authority, req.path);
    if (pathOf(req.path) === NOTICE_WS_PATH) {
      if (route === undefined) return rawError(socket, 404);
      const service = route.value;
      const cookie = cookieValue(req.headers, CANARY_COOKIE_PREFIX + service.name) ?? '';
      return this.#opts.hub.accept({ method: req.method, url: req.path, headers: headerObject(req.headers) }, req.remoteAddress, socket, rest, service.name, cookie);
    }
    if (route === undefined) return rawError(socket, 404);
    const startedAt = performance.now();
    if (route.value.maintenance !== undefined) return this.refuse(route, req, socket, 503, 'baton:maintenance', startedAt, 0);
    const gate = route.value.gate;
    if (gate.open) return this.forward(route, req, socket, rest, startedAt, 0);
    const held = new HeldUpgrade(this, route, req, socket, rest, startedAt);
    const ticket = gate.enqueue(held);
    if (ticket === 'overflow') return this.refuse(route, req, socket, 503, 'baton:hold_overflow', startedAt, 0);
    held.ticket = ticket;
    socket.once('close', held.withdraw);
  }

  /** Baton answers the handshake itself (maintenance, a full queue, a hold timeout, nothing running). */
  refuse(route: Route<Service>, req: UpgradeRequest, socket: Duplex, status: number, outcome: UpgradeRecord['outcome'], startedAt: number, heldMs: number): void {
    rawError(socket, status, outcome === 'baton:maintenance' ? 'maintenance' : undefined);
    this.#finished(route, req, { status, outcome, startedAt, heldMs, requestId: this.#opts.ctx.ids.of(req.headers), upstream: undefined, traceparent: undefined, socket });
  }

  forward(route: Route<Service>, req: UpgradeRequest, socket: Duplex, rest: Buffer, startedAt: number, heldMs: number): void {
    if (socket.destroyed) return;
    const service = route.value;
    const strip = service.config.stripPrefix && route.prefix !== '/';
    const upstream = service.pick(undefined, sideOf(req.headers, service.name, service.canary?.release.version));
    if (upstream === undefined) return this.refuse(route, req, socket, 503, 'baton:no_upstream', startedAt, heldMs);
    const { ctx, log } = this.#opts;
    const requestId = ctx.ids.of(req.headers);
    const headers = upstreamHeaders(req.headers, {
      remoteAddress: req.remoteAddress,
      trusted: ctx.trusted.has(req.remoteAddress),
      proto: req.secure ? 'https' : 'http',
      authority: req.authority ?? this.#opts.fallbackAuthority(),
      requestId,
      underscores: ctx.limits.underscoresInHeaders,
      trace: ctx.trace,
    });
    const traceparent = lastFieldValue(headers, 'traceparent');
    if (strip) headers.push('x-forwarded-prefix', route.prefix);
    headers.push('connection', 'Upgrade', 'upgrade', 'websocket');
    new Handshake(socket, rest, upstream, {
      path: strip ? stripPrefix(route.prefix, req.path) : req.path,
      headers,
      timeoutMs: ctx.limits.upstreamHeadersTimeoutMs,
      buffers: this.#buffers,
      done: (outcome, err, answer) => {
        if (outcome === 'failed' && err !== undefined) log.warn({ service: service.name, request_id: requestId, err: err.message }, 'websocket upgrade failed');
        if (ctx.observer.upgradeFinished === undefined) return;
        const end = { startedAt, heldMs, requestId, upstream, traceparent, socket };
        if (outcome === 'refused') return this.#finished(route, req, { ...end, status: answer?.status ?? 0, outcome: 'refused' });
        if (outcome === 'failed') return this.#finished(route, req, { ...end, status: 502, outcome: 'upstream_error:handshake' });
        // Open: the line is written when the WebSocket ends.
        const tunnel = answer?.tunnel;
        socket.once('close', () => this.#finished(route, req, { ...end, status: 101, outcome: tunnel?.closedForRestart === true ? 'cut_by_drain' : 'ok' }));
      },
    });
  }

  #finished(
    route: Route<Service>,
    req: UpgradeRequest,
    end: { status: number; outcome: UpgradeRecord['outcome']; startedAt: number; heldMs: number; requestId: string; upstream: Upstream | undefined; traceparent: string | undefined; socket: Duplex },
  ): void {
    const observer = this.#opts.ctx.observer;
    if (observer.upgradeFinished === undefined) return;
    const s = end.socket as Partial<Socket>;
    observer.upgradeFinished({
      service: route.value.name,
      method: req.method,
      path: req.path,
      host: req.authority,
      requestId: end.requestId,
      status: end.status,
      outcome: end.outcome,
      durationMs: performance.now() - end.startedAt,
      heldMs: end.heldMs,
      bytesIn: s.bytesRead ?? 0,
      bytesOut: s.bytesWritten ?? 0,
      upstream: end.upstream,
      remoteAddress: req.remoteAddress,
      clientAddress: clientAddress(req.remoteAddress, req.headers, this.#opts.ctx.trusted),
      userAgent: fieldValue(req.headers, 'user-agent'),
      secure: req.secure,
      tlsVersion: req.tlsVersion,
      traceparent: end.traceparent,
    });
  }
}

/** A handshake waiting at its service's gate. */
class HeldUpgrade implements Waiter {
  ticket: { withdraw(): void } | undefined;

  constructor(
    readonly upgrades: Upgrades,
    readonly route: Route<Service>,
    readonly req: UpgradeRequest,
    readonly socket: Duplex,
    readonly rest: Buffer,
    readonly startedAt: number,
  ) {}

  withdraw = (): void => {
    this.ticket?.withdraw();
  };

  settle(outcome: HoldOutcome, waitedMs: number): void {
    this.socket.removeListener('close', this.withdraw);
    if (outcome === 'timed_out') this.upgrades.refuse(this.route, this.req, this.socket, 503, 'baton:hold_timeout', this.startedAt, waitedMs);
    else this.upgrades.forward(this.route, this.req, this.socket, this.rest, this.startedAt, waitedMs);
  }
}

/** Flat fields as node:http's `headers` object (lower-case names, repeated ones joined), for `ws`. */
function headerObject(flat: readonly string[]): Record<string, string> {
  // No prototype: a field named __proto__ is just a field.
  const out = Object.create(null) as Record<string, string>;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  }
  return out;
}

function ignore(): void {}
