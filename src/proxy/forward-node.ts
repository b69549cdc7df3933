import http from 'node:http';
import { downstreamHeaders } from './headers.js';
import { sendError } from './error-pages.js';
import { errorKind, isBodiless, type Forwarder, type ForwarderHooks, type WebJob } from './forwarder.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * The lean forwarder: node:http client over the upstream's keep-alive agent, streaming both
 * ways. The request body is piped only once the upstream socket is connected, so a refused
 * connection consumed nothing and may be retried.
 */
export class NodeForwarder implements Forwarder {
  readonly name = 'node';
  readonly #hooks: ForwarderHooks;

  constructor(hooks: ForwarderHooks) {
    this.#hooks = hooks;
  }

  web(job: WebJob): void {
    const { req, res, target, exchange } = job;
    const bodiless = isBodiless(req);
    let settled = false; // the client got (or is getting) an answer from us or upstream
    let responded = false;
    let bodyStarted = false;

    const proxyReq = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: job.headers,
      agent: target.agent,
      setHost: false,
    });

    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      proxyReq.destroy();
      this.#hooks.onError(job, 'timeout', new Error('upstream headers timeout'));
      sendError(res, 'gateway_timeout', job.requestId);
    }, job.headersTimeoutMs);

    const pipeBody = (): void => {
      bodyStarted = true;
      req.pipe(proxyReq);
    };
    if (bodiless) proxyReq.end();
    else {
      proxyReq.once('socket', (socket) => {
        if (socket.connecting) socket.once('connect', pipeBody);
        else pipeBody();
      });
    }

    proxyReq.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (responded) {
        // The answer was streaming: there is no way to say more than cut it.
        this.#hooks.onError(job, 'aborted_response', err);
        res.destroy();
        return;
      }
      const kind = errorKind(err);
      const untouched = !bodyStarted && (kind === 'refused' || (kind === 'reset' && proxyReq.reusedSocket && bodiless && IDEMPOTENT.has(req.method ?? '')));
      if (job.mayRetry && untouched && !res.headersSent && !res.destroyed) {
        this.#hooks.onRetry(job, err);
        return;
      }
      this.#hooks.onError(job, kind, err);
      sendError(res, 'bad_gateway', job.requestId);
    });

    proxyReq.on('response', (pres) => {
      clearTimeout(timer);
      if (settled) {
        pres.destroy();
        return;
      }
      responded = true;
      const type = pres.headers['content-type'];
      const headers = downstreamHeaders(pres.rawHeaders, job.requestId);
      res.writeHead(pres.statusCode ?? 502, pres.statusMessage, headers);
      if (type !== undefined && type.startsWith('text/event-stream')) {
        exchange.isStream = true;
        res.flushHeaders();
      }
      pres.on('error', (err) => {
        if (settled) return;
        settled = true;
        this.#hooks.onError(job, 'aborted_response', err);
        res.destroy();
      });
      pres.on('end', () => {
        settled = true;
      });
      pres.pipe(res);
    });

    exchange.onCut = (reason) => {
      clearTimeout(timer);
      const wasSettled = settled;
      settled = true;
      proxyReq.destroy();
      if (reason === 'grace' && responded) res.end();
      else if (!wasSettled || responded) sendError(res, 'drain_timeout', job.requestId);
    };

    res.once('close', () => {
      clearTimeout(timer);
      if (!res.writableFinished) {
        settled = true;
        proxyReq.destroy();
      }
    });
  }
}
