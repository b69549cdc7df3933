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
  /** Honours `WebJob.rewriteResponse` (issue 4: script injection). */
  readonly rewritesResponses = true;
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
      (job.body ?? req).pipe(proxyReq);
    };
    if (job.body !== undefined) {
      bodyStarted = true; // the limit stream reads the body already: never retry
      job.body.once('error', (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        proxyReq.destroy();
        this.#hooks.onError(job, 'other', err);
        sendError(res, 'payload_too_large', job.requestId);
      });
    }
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
      let headers = downstreamHeaders(pres.rawHeaders, job.requestId);
      // Issue 4 (notify.inject): the hook may swap the headers and pass the body through a Transform.
      const rewrite = job.rewriteResponse?.({ method: req.method ?? 'GET', statusCode: pres.statusCode ?? 502, headers });
      if (rewrite !== undefined) headers = rewrite.headers;
      res.writeHead(pres.statusCode ?? 502, pres.statusMessage, headers);
      if (type !== undefined && type.startsWith('text/event-stream')) {
        exchange.isStream = true;
        res.flushHeaders();
      }
      pres.on('error', (err) => {
        if (settled) return;
        settled = true;
        this.#hooks.onError(job, 'aborted_response', err);
        rewrite?.body.destroy();
        res.destroy();
      });
      pres.on('end', () => {
        settled = true;
      });
      if (rewrite === undefined) pres.pipe(res);
      else pres.pipe(rewrite.body).pipe(res);
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
