import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/types.js';
import type { RequestPath, ProxyObserver } from './request-path.js';
import type { Upgrades } from './upgrades.js';
import { NodeDownstream, splitTarget } from './node-downstream.js';
import { NodeConnections } from './node-connections.js';
import { rawError } from './raw-error.js';
import { tlsVersionOf } from './tls-version.js';

export interface NodeServerOptions {
  secure: boolean;
  /** The request path's limits, updated in place by a reload (the body bound is read per request). */
  limits: LimitsConfig;
  checkIntervalMs: number;
  path: RequestPath;
  upgrades: Upgrades;
  observer: ProxyObserver;
  log: Logger;
}

/**
 * node:http for the connections Baton's HTTP/1.1 parser hands off (never listening itself: it
 * only gets the connections handed to it). Its requests become the same Downstream for the
 * request path, its upgrades the same UpgradeRequest; what it reads and Baton refuses is
 * refused in its turn on the connection (node-connections.ts). One per listener side.
 */
export class NodeServer {
  readonly server: http.Server;
  readonly #secure: boolean;
  readonly #opts: NodeServerOptions;
  readonly #path: RequestPath;
  readonly #limits: LimitsConfig;
  readonly #connections = new NodeConnections((req, res) => this.#serve(req, res));

  constructor(opts: NodeServerOptions) {
    this.#opts = opts;
    this.#secure = opts.secure;
    this.#path = opts.path;
    this.#limits = opts.limits;
    const l = opts.limits;
    const node = http.createServer({
      keepAlive: true,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      maxHeaderSize: l.maxHeaderSize,
      noDelay: true,
      connectionsCheckingInterval: opts.checkIntervalMs,
      // Refused by #connections instead, which also stops what is pipelined behind it.
      requireHostHeader: false,
    });
    // Node silently drops headers past maxHeadersCount; keep one more so the request path can tell and refuse.
    node.maxHeadersCount = l.maxHeadersCount + 1;
    node.on('request', this.#serverOnRequest);
    node.on('upgrade', this.#serverOnUpgrade);
    node.on('connect', this.#serverOnConnect);
    node.on('clientError', this.#serverOnClientError);
    this.server = node;
  }

  /** New limits (a reload): they apply to the next request and connection check. */
  reconfigure(limits: LimitsConfig): void {
    const node = this.server;
    node.keepAliveTimeout = limits.keepAliveTimeoutMs;
    node.headersTimeout = limits.headersTimeoutMs;
    node.requestTimeout = limits.requestTimeoutMs;
    node.maxHeadersCount = limits.maxHeadersCount + 1;
  }

  #serverOnRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => this.#connections.admit(req, res);

  /** A request node:http read, once its turn on its connection has come (node-connections.ts). */
  #serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.#path.stopping) res.shouldKeepAlive = false;
    this.#path.handle(new NodeDownstream(req, res, { secure: this.#secure, maxBody: this.#limits.maxBodyBytes }));
  }

  #serverOnUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => this.#connections.takeOver(socket, () => this.#upgrade(req, socket, head));

  /** An upgrade node:http read, once the answers before it have gone out. */
  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const secure = this.#secure;
    // node:http sends every Upgrade request here; Baton proxies WebSockets only, without a body
    // (llhttp read one, which the handshake would drop: differential replay, issue 17).
    const bodyless = req.headers['transfer-encoding'] === undefined && Number(req.headers['content-length'] ?? 0) === 0;
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || req.method !== 'GET' || !bodyless) {
      rawError(socket, 400, undefined, req.method === 'HEAD');
      return this.#opts.observer.rejected?.(socket, secure, 400);
    }
    const target = splitTarget(req.url ?? '/');
    this.#opts.upgrades.handle(
      { method: 'GET', path: target.path, authority: target.authority ?? req.headers.host, headers: req.rawHeaders, remoteAddress: req.socket.remoteAddress ?? '', secure, tlsVersion: secure ? tlsVersionOf(req.socket) : undefined },
      socket,
      head,
    );
  }

  /** CONNECT, read by node:http: refused as Baton's own parser refuses it, in its turn. */
  #serverOnConnect = (req: http.IncomingMessage, socket: Duplex): void => this.#connections.takeOver(socket, () => this.#refuseConnect(socket));

  #refuseConnect(socket: Duplex): void {
    rawError(socket, 405, 'CONNECT (Baton is not a forward proxy)');
    this.#opts.observer.rejected?.(socket, this.#secure, 405);
  }

  #serverOnClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.#opts.log.debug({ code: err.code, reason: err.message }, 'bad request from client');
    this.#connections.refuse(socket, status, err.code);
    this.#opts.observer.rejected?.(socket, this.#secure, status);
  };
}
