import type http from 'node:http';
import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { downstreamHeaders } from './headers.js';
import { sendError } from './error-pages.js';
import { errorKind, isBodiless, type Forwarder, type ForwarderHooks, type Target, type UpstreamErrorKind, type WebJob } from './forwarder.js';
import type { CutReason } from '../upstream/exchange.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * Keep-alive as the node forwarder's Agent has it, one request per connection at a time, and
 * none of undici's own timers: Baton times the response head itself (from the moment the job
 * arrives, connect included), and an event stream may stay quiet for longer than any body timeout.
 */
const POOL_OPTIONS: Pool.Options = { pipelining: 1, keepAliveTimeout: 4000, headersTimeout: 0, bodyTimeout: 0 };

const kFlight = Symbol('baton.undiciFlight');
type Tagged<T> = T & { [kFlight]?: Flight };

/**
 * The forwarder on undici: one `Pool` per upstream address, driven through `dispatch` with a
 * raw handler (the response head as undici's raw buffers, the body as it comes, paused while
 * the client is slow). The request body is handed to undici as a stream, which reads it only
 * once a connection is ready and stops reading while the upstream is slow to take it.
 *
 * Same contract as the node forwarder, but only a bodiless request is retried (undici is handed
 * the body stream itself): on a refused connection, or on a reset before any response byte of
 * an idempotent method. A response head later than `headersTimeoutMs` is a 504; `exchange.onCut`
 * ends the exchange for a drain; text/event-stream marks it a stream. It declines
 * `rewriteResponse` (the proxy sends those services to the node forwarder). A pool lives as long
 * as its upstream: `Target.onClose` destroys it.
 *
 * Known undici wart (nodejs/undici#5845): aborting an in-flight request (client gone, 504, drain
 * cut) makes its Client open one spare connection, which then idles in the pool for reuse.
 */
export class UndiciForwarder implements Forwarder {
  readonly name = 'undici';
  readonly #hooks: ForwarderHooks;
  /** By `host:port`; an entry leaves with its upstream. */
  readonly #pools = new Map<string, Pool>();

  constructor(hooks: ForwarderHooks) {
    this.#hooks = hooks;
  }

  web(job: WebJob): void {
    new Flight(job, this.#hooks).start(this.#pool(job.target));
  }

  #pool(target: Target): Pool {
    const key = `${target.host}:${target.port}`;
    const known = this.#pools.get(key);
    if (known !== undefined) return known;
    const host = target.host.includes(':') ? `[${target.host}]` : target.host;
    const pool = new Pool(`http://${host}:${target.port}`, POOL_OPTIONS);
    this.#pools.set(key, pool);
    target.onClose?.(() => {
      if (this.#pools.get(key) === pool) this.#pools.delete(key);
      pool.destroy().catch(ignore);
    });
    return pool;
  }
}

/** One request/response through the undici forwarder: the handler undici calls back. */
class Flight implements Dispatcher.DispatchHandler {
  readonly #job: WebJob;
  readonly #hooks: ForwarderHooks;
  readonly #res: Tagged<http.ServerResponse>;
  readonly #bodiless: boolean;
  #timer: NodeJS.Timeout | undefined;
  /** undici's way to end this request (destroys the connection); set once it is written. */
  #abort: ((err?: Error) => void) | undefined;
  /** undici's resume for a response paused by backpressure. */
  #resume: (() => void) | undefined;
  /** The client got (or is getting) an answer: from the upstream, or an error page from us. */
  #settled = false;
  #responded = false;
  /** Some bytes of a response arrived: a failure after that is never retried. */
  #heard = false;

  constructor(job: WebJob, hooks: ForwarderHooks) {
    this.#job = job;
    this.#hooks = hooks;
    this.#res = job.res;
    this.#bodiless = isBodiless(job.req);
  }

  start(pool: Pool): void {
    const job = this.#job;
    const res = this.#res;
    // The first attempt installs the listener; a retry only re-points it.
    if (res[kFlight] === undefined) res.on('close', resOnClose);
    res[kFlight] = this;
    job.exchange.onCut = (reason) => this.#cut(reason);
    if (job.body !== undefined) {
      // Before dispatch: this listener runs ahead of undici's own, so a 413 goes out first.
      (job.body as Tagged<NodeJS.ReadableStream>)[kFlight] = this;
      job.body.once('error', bodyOnError);
    }
    this.#timer = setTimeout(flightOnTimeout, job.headersTimeoutMs, this);
    const { req } = job;
    pool.dispatch(
      {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: requestHeaders(job.headers),
        body: this.#bodiless ? null : ((job.body ?? req) as Readable),
      },
      this,
    );
  }

  // --- undici's handler ------------------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    // Timed out, cut or abandoned while the connection was being made: end it now.
    if (this.#settled) abort();
    else this.#abort = abort;
  }

  onResponseStarted(): void {
    this.#heard = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx (103 Early Hints): wait for the final answer
    clearTimeout(this.#timer);
    if (this.#settled) {
      this.#abort?.();
      return false;
    }
    const res = this.#res;
    // latin1 gives back the bytes as sent, as node:http's own header strings do.
    const raw = new Array<string>(rawHeaders.length);
    let type: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1');
      const value = rawHeaders[i + 1]!.toString('latin1');
      raw[i] = name;
      raw[i + 1] = value;
      if (type === undefined && name.length === 12 && name.toLowerCase() === 'content-type') type = value;
    }
    res.writeHead(statusCode, statusText, downstreamHeaders(raw, this.#job.requestId));
    this.#responded = true;
    this.#resume = resume;
    if (type !== undefined && type.startsWith('text/event-stream')) {
      this.#job.exchange.isStream = true;
      res.flushHeaders();
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    // The client is slow: undici stops reading the upstream until the client drains.
    this.#res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    this.#settled = true;
    this.#res.end();
  }

  onError(err: Error): void {
    clearTimeout(this.#timer);
    if (this.#settled) return;
    this.#settled = true;
    const job = this.#job;
    const res = this.#res;
    if (this.#responded) {
      // The answer was streaming: there is no way to say more than cut it.
      this.#hooks.onError(job, 'aborted_response', err);
      res.destroy();
      return;
    }
    const kind = undiciErrorKind(err);
    const untouched = this.#bodiless && !this.#heard && (kind === 'refused' || (kind === 'reset' && IDEMPOTENT.has(job.req.method ?? '')));
    if (job.mayRetry && untouched && !res.headersSent && !res.destroyed) {
      this.#hooks.onRetry(job, err);
      return;
    }
    this.#hooks.onError(job, kind, err);
    sendError(res, 'bad_gateway', job.requestId);
  }

  // --- Baton's side ----------------------------------------------------------------------

  timedOut(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#abort?.(); // not connected yet: onConnect ends it
    this.#hooks.onError(this.#job, 'timeout', new Error('upstream headers timeout'));
    sendError(this.#res, 'gateway_timeout', this.#job.requestId);
  }

  bodyFailed(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#abort?.();
    this.#hooks.onError(this.#job, 'other', err);
    sendError(this.#res, 'payload_too_large', this.#job.requestId);
  }

  clientClosed(): void {
    clearTimeout(this.#timer);
    if (this.#res.writableFinished) return;
    // Gone before the answer ended: the upstream connection goes too, never back to the pool.
    this.#settled = true;
    this.#abort?.();
  }

  #cut(reason: CutReason): void {
    clearTimeout(this.#timer);
    const wasSettled = this.#settled;
    this.#settled = true;
    this.#abort?.();
    if (reason === 'grace' && this.#responded) this.#res.end();
    else if (!wasSettled || this.#responded) sendError(this.#res, 'drain_timeout', this.#job.requestId);
  }
}

function resOnClose(this: Tagged<http.ServerResponse>): void {
  this[kFlight]?.clientClosed();
}

function bodyOnError(this: Tagged<NodeJS.ReadableStream>, err: Error): void {
  this[kFlight]?.bodyFailed(err);
}

function flightOnTimeout(flight: Flight): void {
  flight.timedOut();
}

/**
 * undici refuses a Transfer-Encoding header (it frames the body itself: chunked when no length
 * is known) and an Expect one (node:http's server has answered 100 Continue already).
 */
function requestHeaders(headers: http.OutgoingHttpHeaders): Record<string, string | string[]> {
  if (headers['transfer-encoding'] !== undefined || headers.expect !== undefined) {
    const { 'transfer-encoding': _te, expect: _expect, ...rest } = headers;
    headers = rest;
  }
  // Numbers are written as text by undici; only the declared type is narrower.
  return headers as Record<string, string | string[]>;
}

/** undici's "other side closed" (the upstream ended the connection) is a reset too. */
function undiciErrorKind(err: NodeJS.ErrnoException): UpstreamErrorKind {
  return err.code === 'UND_ERR_SOCKET' ? 'reset' : errorKind(err);
}

function ignore(): void {}
