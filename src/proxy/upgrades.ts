import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Service } from '../service.js';
import type { NoticeHub } from '../notify/hub.js';
import type { HoldOutcome, Waiter } from '../swap/gate.js';
import { ReadBuffers } from '../upstream/read-buffers.js';
import type { ExchangeContext } from './request-path.js';
import { pathOf, stripPrefix, type Route, type Router } from './router.js';
import { upstreamHeaders } from './headers.js';
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
    if (route.value.maintenance !== undefined) return rawError(socket, 503, 'maintenance');
    const gate = route.value.gate;
    if (gate.open) return this.forward(route, req, socket, rest);
    const held = new HeldUpgrade(this, route, req, socket, rest);
    const ticket = gate.enqueue(held);
    if (ticket === 'overflow') return rawError(socket, 503);
    held.ticket = ticket;
    socket.once('close', held.withdraw);
  }

  forward(route: Route<Service>, req: UpgradeRequest, socket: Duplex, rest: Buffer): void {
    if (socket.destroyed) return;
    const service = route.value;
    const strip = service.config.stripPrefix && route.prefix !== '/';
    const upstream = service.pick(undefined, sideOf(req.headers, service.name, service.canary?.release.version));
    if (upstream === undefined) return rawError(socket, 503);
    const { ctx, log } = this.#opts;
    const requestId = ctx.ids.of(req.headers);
    const headers = upstreamHeaders(req.headers, {
      remoteAddress: req.remoteAddress,
      trusted: ctx.trusted.has(req.remoteAddress),
      proto: req.secure ? 'https' : 'http',
      authority: req.authority ?? this.#opts.fallbackAuthority(),
      requestId,
      underscores: ctx.limits.underscoresInHeaders,
    });
    if (strip) headers.push('x-forwarded-prefix', route.prefix);
    headers.push('connection', 'Upgrade', 'upgrade', 'websocket');
    new Handshake(socket, rest, upstream, {
      path: strip ? stripPrefix(route.prefix, req.path) : req.path,
      headers,
      timeoutMs: ctx.limits.upstreamHeadersTimeoutMs,
      buffers: this.#buffers,
      done: (outcome, err) => {
        if (outcome === 'failed' && err !== undefined) log.warn({ service: service.name, request_id: requestId, err: err.message }, 'websocket upgrade failed');
      },
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
  ) {}

  withdraw = (): void => {
    this.ticket?.withdraw();
  };

  settle(outcome: HoldOutcome): void {
    this.socket.removeListener('close', this.withdraw);
    if (outcome === 'timed_out') rawError(this.socket, 503);
    else this.upgrades.forward(this.route, this.req, this.socket, this.rest);
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
