import type http from 'node:http';
import { ProxyServer } from 'http-proxy-3';
import { sendError } from './error-pages.js';
import { errorKind, isBodiless, type Forwarder, type ForwarderHooks, type WebJob } from './forwarder.js';

interface State {
  job: WebJob;
  timer: NodeJS.Timeout;
  proxyReq: http.ClientRequest | undefined;
  settled: boolean;
}

/**
 * The forwarder on http-proxy-3 (the maintained successor of http-proxy). Kept behind the
 * Forwarder interface so the benchmark compares it with the lean one on equal terms. It pipes
 * the body at once, so only bodiless requests can be retried after a refused connection.
 */
export class HttpProxy3Forwarder implements Forwarder {
  readonly name = 'http-proxy-3';
  readonly #proxy: ProxyServer;
  readonly #hooks: ForwarderHooks;
  readonly #states = new WeakMap<http.IncomingMessage, State>();

  constructor(hooks: ForwarderHooks) {
    this.#hooks = hooks;
    this.#proxy = new ProxyServer({ xfwd: false, preserveHeaderKeyCase: true, ws: false });
    this.#proxy.on('proxyReq', (proxyReq, req) => {
      const st = this.#states.get(req);
      if (st !== undefined) st.proxyReq = proxyReq;
    });
    this.#proxy.on('proxyRes', (proxyRes, req) => {
      const st = this.#states.get(req);
      if (st === undefined) return;
      clearTimeout(st.timer);
      const type = proxyRes.headers['content-type'];
      if (type !== undefined && type.startsWith('text/event-stream')) st.job.exchange.isStream = true;
      proxyRes.headers['x-request-id'] ??= st.job.requestId;
      // http-proxy-3 pipes the answer but does not end the client's response when the app dies
      // mid-stream: cut it, or the client would wait forever.
      proxyRes.once('close', () => {
        if (!proxyRes.complete && !st.job.res.writableFinished) {
          this.#hooks.onError(st.job, 'aborted_response', new Error('upstream closed mid-response'));
          st.job.res.destroy();
        }
      });
    });
    // Errors that reach the server rather than the per-call callback (client reset mid-body).
    this.#proxy.on('error', () => {});
  }

  web(job: WebJob): void {
    const { req, res } = job;
    const st: State = {
      job,
      proxyReq: undefined,
      settled: false,
      timer: setTimeout(() => {
        if (st.settled) return;
        st.settled = true;
        st.proxyReq?.destroy();
        this.#hooks.onError(job, 'timeout', new Error('upstream headers timeout'));
        sendError(res, 'gateway_timeout', job.requestId);
      }, job.headersTimeoutMs),
    };
    this.#states.set(req, st);
    job.exchange.onCut = (reason) => {
      clearTimeout(st.timer);
      const wasSettled = st.settled;
      st.settled = true;
      st.proxyReq?.destroy();
      if (reason === 'grace' && res.headersSent) res.end();
      else if (!wasSettled || res.headersSent) sendError(res, 'drain_timeout', job.requestId);
    };
    res.once('close', () => clearTimeout(st.timer));
    // http-proxy-3 copies req.headers: hand it the headers Baton computed.
    req.headers = job.headers as http.IncomingHttpHeaders;
    if (job.body !== undefined) {
      job.body.once('error', (err: Error) => {
        if (st.settled) return;
        st.settled = true;
        clearTimeout(st.timer);
        st.proxyReq?.destroy();
        this.#hooks.onError(job, 'other', err);
        sendError(res, 'payload_too_large', job.requestId);
      });
    }
    const options = { target: { host: job.target.host, port: job.target.port }, agent: job.target.agent, ...(job.body === undefined ? {} : { buffer: job.body as unknown as import('node:stream').Stream }) };
    this.#proxy.web(req, res, options, (err: NodeJS.ErrnoException) => {
      clearTimeout(st.timer);
      if (st.settled) return;
      st.settled = true;
      if (res.headersSent) {
        this.#hooks.onError(job, 'aborted_response', err);
        res.destroy();
        return;
      }
      const kind = errorKind(err);
      if (job.mayRetry && kind === 'refused' && isBodiless(req) && !res.destroyed) {
        this.#hooks.onRetry(job, err);
        return;
      }
      this.#hooks.onError(job, kind, err);
      sendError(res, 'bad_gateway', job.requestId);
    });
  }
}
