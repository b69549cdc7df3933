import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Service } from '../service.js';
import type { NoticeHub } from '../notify/hub.js';
import type { Router } from './router.js';
import { upstreamHeaders, type ForwardedContext } from './headers.js';
import { forwardUpgrade } from './forward-ws.js';
import { NOTICE_WS_PATH, pathOf, rawError } from './own-routes.js';

export interface UpgradesOptions {
  router: Router<Service>;
  hub: NoticeHub;
  log: Logger;
  /** Time the app may take to answer a handshake before the client gets 502. */
  upstreamHeadersTimeoutMs: number;
  /** The request's id and its X-Forwarded-* context, as plain requests get them. */
  requestId(req: http.IncomingMessage): string;
  forwarded(req: http.IncomingMessage, requestId: string): ForwardedContext;
}

/**
 * Upgrade requests on the public listener: Baton's own notice socket, or a WebSocket handshake
 * for a service, which waits at the service's gate while it is held (as plain requests do) and
 * then goes to whatever upstream is active.
 */
export class Upgrades {
  readonly #opts: UpgradesOptions;

  constructor(opts: UpgradesOptions) {
    this.#opts = opts;
  }

  /** node:http's 'upgrade' listener. */
  handle = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', ignore);
    const url = req.url ?? '/';
    const service = this.#opts.router.match(req.headers.host);
    if (pathOf(url) === NOTICE_WS_PATH) {
      if (service === undefined) return rawError(socket, 404);
      return this.#opts.hub.accept(req, socket, head, service.name);
    }
    if (service === undefined) return rawError(socket, 404);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return rawError(socket, 400);
    const gate = service.gate;
    if (gate.open) return this.#forward(service, req, socket, head);
    const ticket = gate.enqueue({
      settle: (outcome) => {
        socket.removeListener('close', withdraw);
        if (outcome === 'timed_out') rawError(socket, 503);
        else this.#forward(service, req, socket, head);
      },
    });
    if (ticket === 'overflow') return rawError(socket, 503);
    const withdraw = (): void => ticket.withdraw();
    socket.once('close', withdraw);
  };

  #forward(service: Service, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (socket.destroyed) return;
    const upstream = service.active;
    if (upstream === undefined) return rawError(socket, 503);
    const opts = this.#opts;
    const id = opts.requestId(req);
    const headers = upstreamHeaders(req.headers, opts.forwarded(req, id), true);
    forwardUpgrade(req, socket, head, upstream, headers, opts.upstreamHeadersTimeoutMs, (outcome, err) => {
      if (outcome === 'failed' && err !== undefined) opts.log.warn({ service: service.name, request_id: id, err: err.message }, 'websocket upgrade failed');
    });
  }
}

function ignore(): void {}
