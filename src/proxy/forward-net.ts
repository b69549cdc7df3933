import type http from 'node:http';
import type { Readable } from 'node:stream';
import { downstreamHeaders, requestHead } from './headers.js';
import { sendError } from './error-pages.js';
import { errorKind, isBodiless, type Forwarder, type ForwarderHooks, type Target, type WebJob } from './forwarder.js';
import { ConnPool, type ConnUser, type UpstreamConn } from './forward-net-pool.js';
import { ChunkedDecoder, ResponseParseError, gatherHead, parseHead, type Framing } from './forward-net-parse.js';
import { Deadlines, type DeadlineEntry, type DeadlineList } from './forward-net-deadlines.js';
import type { CutReason } from '../upstream/exchange.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const POOL = { idleMs: 4000, maxIdle: 256 };

/** Where a flight stands. Transitions: connecting -> awaiting_head -> streaming -> finished; any -> finished. */
type FlightState = 'connecting' | 'awaiting_head' | 'streaming' | 'finished';

const kFlight = Symbol('baton.netFlight');
type Tagged<T> = T & { [kFlight]?: Flight };

/**
 * The lean forwarder: HTTP/1.1 written by hand onto pooled node:net connections, with only
 * the response head parsed (status, framing, Connection) and the body streamed through,
 * chunked bodies decoded on the fly. No ClientRequest, no Agent, no IncomingMessage for the
 * upstream's answer, no per-request socket listeners.
 *
 * Same contract as the node forwarder: a refused connection, or a reset of a reused one before
 * anything came back for a bodiless idempotent request, asks for a retry; the response head
 * later than `headersTimeoutMs` is a 504; `exchange.onCut` ends the exchange for a drain;
 * text/event-stream marks it a stream. Upgrades never come here (see forward-ws.ts), and it
 * declines `rewriteResponse` (the proxy sends those services to the node forwarder).
 */
export class NetForwarder implements Forwarder {
  readonly name = 'net';
  readonly servesLean = true;
  readonly #hooks: ForwarderHooks;
  /** One pool per upstream; it goes with the upstream (its idle sockets close by themselves). */
  readonly #pools = new WeakMap<Target, ConnPool>();
  readonly #deadlines = new Deadlines();

  constructor(hooks: ForwarderHooks) {
    this.#hooks = hooks;
  }

  web(job: WebJob): void {
    let pool = this.#pools.get(job.target);
    if (pool === undefined) {
      pool = new ConnPool(job.target.host, job.target.port, POOL);
      this.#pools.set(job.target, pool);
    }
    new Flight(job, this.#hooks, this.#deadlines).start(pool);
  }
}

/** One request/response through the net forwarder. */
class Flight implements ConnUser, DeadlineEntry {
  readonly job: WebJob;
  readonly #hooks: ForwarderHooks;
  readonly #deadlines: Deadlines;
  // DeadlineEntry: the headers timeout, without a timer of its own.
  deadlinePrev: DeadlineEntry | undefined = undefined;
  deadlineNext: DeadlineEntry | undefined = undefined;
  deadlineAt = 0;
  deadlineList: DeadlineList | undefined = undefined;
  readonly #res: Tagged<http.ServerResponse>;
  state: FlightState = 'connecting';
  #pool: ConnPool | undefined;
  #conn: UpstreamConn | undefined;
  #reused = false;
  /** The client got (or is getting) an answer: from the upstream, or an error page from us. */
  #settled = false;
  #responded = false;
  /** The request body's source, while it is being sent. */
  #src: Tagged<Readable> | undefined;
  #bodyStarted: boolean;
  #bodySent = false;
  /**
   * The request head of a request with a body, held until the first body bytes (or its end):
   * a body the client botches before that (bad chunk, over the size limit) then never reaches
   * the app, as with node:http's ClientRequest, and the head and first chunk go in one write.
   */
  #headHeld: string | undefined;
  readonly #chunkedOut: boolean;
  // Response side.
  #pending: Buffer | undefined;
  #framing: Framing = 'none';
  #remaining = 0;
  #keepAlive = false;
  #decoder: ChunkedDecoder | undefined;
  #drainListening = false;

  constructor(job: WebJob, hooks: ForwarderHooks, deadlines: Deadlines) {
    this.job = job;
    this.#hooks = hooks;
    this.#deadlines = deadlines;
    this.#res = job.res;
    // The size-limiting stream reads the body already: such a request is never retried.
    this.#bodyStarted = job.body !== undefined;
    this.#chunkedOut = job.headers['transfer-encoding'] !== undefined;
  }

  start(pool: ConnPool): void {
    const { job } = this;
    const res = this.#res;
    // The first attempt installs the listener; a retry only re-points it.
    if (res[kFlight] === undefined) res.on('close', resOnClose);
    res[kFlight] = this;
    job.exchange.onCut = (reason) => this.#cut(reason);
    if (job.body !== undefined) {
      (job.body as Tagged<Readable>)[kFlight] = this;
      job.body.once('error', bodyOnError);
    }
    this.#deadlines.add(this, job.headersTimeoutMs);
    this.#pool = pool;
    const conn = pool.acquire(this);
    this.#conn = conn;
    this.#reused = conn.uses > 0;
    if (!conn.connecting) this.#send(conn);
  }

  // --- ConnUser --------------------------------------------------------------------------

  onConnect(): void {
    if (this.#conn !== undefined && this.state === 'connecting') this.#send(this.#conn);
  }

  onConnData(chunk: Buffer): void {
    try {
      if (this.state === 'streaming') this.#body(chunk, 0);
      else if (this.state === 'awaiting_head') this.#head(chunk);
      else throw new ResponseParseError('bytes from the upstream before the request was written');
    } catch (err) {
      if (!(err instanceof ResponseParseError)) throw err;
      this.#badResponse(err);
    }
  }

  onConnDrain(): void {
    this.#src?.resume();
  }

  onConnGone(err: Error | undefined): void {
    this.#conn = undefined;
    switch (this.state) {
      case 'connecting':
      case 'awaiting_head':
        this.#failBeforeResponse(err ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        return;
      case 'streaming':
        // A close-delimited body ends here; any other framing was cut short.
        if (err === undefined && this.#framing === 'close') this.#complete(undefined);
        else this.#abortResponse(err ?? new Error('upstream closed the connection mid-response'));
        return;
      case 'finished':
        return;
    }
  }

  // --- request ---------------------------------------------------------------------------

  #send(conn: UpstreamConn): void {
    const { job } = this;
    const req = job.req;
    this.state = 'awaiting_head';
    const socket = conn.socket;
    const head = requestHead(req.method ?? 'GET', req.url ?? '/', job.headers);
    if (isBodiless(req) && job.body === undefined) {
      this.#bodySent = true;
      socket.write(head, 'latin1');
      return;
    }
    this.#headHeld = head;
    const src = (job.body ?? req) as Tagged<Readable>;
    src[kFlight] = this;
    this.#src = src;
    this.#bodyStarted = true;
    src.on('data', srcOnData);
    src.on('end', srcOnEnd);
  }

  bodyData(chunk: Buffer): void {
    const conn = this.#conn;
    if (conn === undefined || chunk.length === 0) return;
    const socket = conn.socket;
    const head = this.#headHeld;
    this.#headHeld = undefined;
    let ok: boolean;
    if (this.#chunkedOut) {
      socket.cork();
      socket.write(head === undefined ? chunk.length.toString(16) + '\r\n' : head + chunk.length.toString(16) + '\r\n', 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else if (head !== undefined) {
      socket.cork();
      socket.write(head, 'latin1');
      ok = socket.write(chunk);
      socket.uncork();
    } else ok = socket.write(chunk);
    if (!ok) this.#src?.pause();
  }

  bodyEnd(): void {
    this.#detachSrc(false);
    this.#bodySent = true;
    const conn = this.#conn;
    if (conn === undefined) return;
    const head = this.#headHeld ?? '';
    this.#headHeld = undefined;
    if (this.#chunkedOut) conn.socket.write(head + '0\r\n\r\n', 'latin1');
    else if (head !== '') conn.socket.write(head, 'latin1');
  }

  bodyError(err: Error): void {
    // The size limit (or the client) broke the body: 413 for the limit, as the node forwarder does.
    if (this.#settled) return;
    this.#settled = true;
    this.#finish();
    this.#hooks.onError(this.job, 'other', err);
    sendError(this.#res, 'payload_too_large', this.job.requestId);
  }

  // --- response --------------------------------------------------------------------------

  #head(chunk: Buffer): void {
    const { buf, end } = gatherHead(this.#pending, chunk, 'response head');
    if (end === -1) {
      this.#pending = buf;
      return;
    }
    this.#pending = undefined;
    const { job } = this;
    const head = parseHead(buf.toString('latin1', 0, end - 4), job.req.method ?? 'GET');
    if (head.statusCode < 200) {
      if (head.statusCode === 101) throw new ResponseParseError('101 Switching Protocols to a plain request');
      // 100 Continue, 103 Early Hints: informational, the real answer follows.
      if (end < buf.length) this.#head(buf.subarray(end));
      return;
    }
    this.#deadlines.remove(this);
    const res = this.#res;
    const headers = downstreamHeaders(head.rawHeaders, job.requestId);
    try {
      res.writeHead(head.statusCode, head.statusMessage === '' ? undefined : head.statusMessage, headers);
    } catch (err) {
      // Node refused a header (invalid characters): nothing was sent.
      throw new ResponseParseError(`unusable response head: ${(err as Error).message}`);
    }
    this.#settled = true;
    this.#responded = true;
    this.state = 'streaming';
    this.#framing = head.framing;
    this.#keepAlive = head.keepAlive;
    const type = head.contentType;
    if (type !== undefined && type.startsWith('text/event-stream')) {
      job.exchange.isStream = true;
      res.flushHeaders();
    }
    switch (head.framing) {
      case 'none':
        this.#complete(undefined, end < buf.length);
        return;
      case 'length':
        this.#remaining = head.contentLength;
        if (head.contentLength === 0) return this.#complete(undefined, end < buf.length);
        break;
      case 'chunked':
        this.#decoder = new ChunkedDecoder();
        break;
      case 'close':
        break;
    }
    if (end < buf.length) this.#body(buf, end);
  }

  #body(buf: Buffer, start: number): void {
    switch (this.#framing) {
      case 'length': {
        const avail = buf.length - start;
        if (avail < this.#remaining) {
          this.#remaining -= avail;
          this.#write(start === 0 ? buf : buf.subarray(start));
          return;
        }
        const last = buf.subarray(start, start + this.#remaining);
        this.#remaining = 0;
        this.#complete(last, avail > last.length);
        return;
      }
      case 'chunked': {
        const end = this.#decoder!.feed(buf, start, writeChunk, this);
        if (end !== -1) this.#complete(undefined, end < buf.length);
        return;
      }
      case 'close':
        this.#write(start === 0 ? buf : buf.subarray(start));
        return;
      case 'none':
        // Unreachable: a bodiless response completes with its head.
        throw new ResponseParseError('bytes after a bodiless response');
    }
  }

  write(data: Buffer): void {
    this.#write(data);
  }

  /** `data` lies in the pool's read buffer: the client gets a copy (its write may be queued). */
  #write(data: Buffer): void {
    if (this.#res.write(Buffer.from(data))) return;
    // The client is slower than the upstream: stop reading it until the response drains.
    this.#conn?.pause();
    if (!this.#drainListening) {
      this.#drainListening = true;
      this.#res.on('drain', resOnDrain);
    }
  }

  resDrained(): void {
    this.#conn?.resume();
  }

  /**
   * The response is complete from the upstream; `extra`: bytes followed it (out of step, not
   * reusable). An answer that came before the whole request body went up (an early 413, say)
   * costs the connection: the rest of the body is discarded rather than waited for.
   */
  #complete(last: Buffer | undefined, extra = false): void {
    this.state = 'finished';
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) {
      if (this.#keepAlive && !extra && this.#bodySent && !conn.gone) this.#pool!.release(conn);
      else conn.destroy();
    }
    if (!this.#bodySent) this.#detachSrc(true);
    this.#res.end(last === undefined ? undefined : Buffer.from(last));
  }

  // --- failures --------------------------------------------------------------------------

  #failBeforeResponse(err: NodeJS.ErrnoException): void {
    this.#deadlines.remove(this);
    if (this.#settled) return;
    this.#settled = true;
    this.state = 'finished';
    const { job } = this;
    const res = this.#res;
    const kind = errorKind(err);
    const method = job.req.method ?? '';
    const untouched = !this.#bodyStarted && (kind === 'refused' || (kind === 'reset' && this.#reused && isBodiless(job.req) && IDEMPOTENT.has(method)));
    this.#detachSrc(true);
    if (job.mayRetry && untouched && !res.headersSent && !res.destroyed) {
      this.#hooks.onRetry(job, err);
      return;
    }
    this.#hooks.onError(job, kind, err);
    sendError(res, 'bad_gateway', job.requestId);
  }

  #badResponse(err: ResponseParseError): void {
    if (this.#responded) return this.#abortResponse(err);
    this.#deadlines.remove(this);
    this.#detachConn(true);
    if (this.#settled) return;
    this.#settled = true;
    this.state = 'finished';
    this.#hooks.onError(this.job, 'other', err);
    sendError(this.#res, 'bad_gateway', this.job.requestId);
  }

  /** The answer was streaming: there is no way to say more than cut it. */
  #abortResponse(err: Error): void {
    this.state = 'finished';
    this.#detachConn(true);
    this.#hooks.onError(this.job, 'aborted_response', err);
    this.#res.destroy();
  }

  onDeadline(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#finish();
    this.#hooks.onError(this.job, 'timeout', new Error('upstream headers timeout'));
    sendError(this.#res, 'gateway_timeout', this.job.requestId);
  }

  #cut(reason: CutReason): void {
    const wasSettled = this.#settled;
    this.#settled = true;
    this.#finish();
    const res = this.#res;
    if (reason === 'grace' && this.#responded) res.end();
    else if (!wasSettled || this.#responded) sendError(res, 'drain_timeout', this.job.requestId);
  }

  resClosed(): void {
    if (this.#res.writableFinished) return;
    this.#settled = true;
    this.#finish();
  }

  /** Stop everything upstream-side: timer, body, connection (destroyed unless released). */
  #finish(): void {
    this.#deadlines.remove(this);
    this.state = 'finished';
    this.#detachConn(true);
  }

  #detachConn(discardBody: boolean): void {
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.destroy();
    this.#detachSrc(discardBody);
  }

  /** Stop reading the request body; `discard` lets the rest flow away so the client connection stays usable. */
  #detachSrc(discard: boolean): void {
    const src = this.#src;
    if (src === undefined) return;
    this.#src = undefined;
    src.removeListener('data', srcOnData);
    src.removeListener('end', srcOnEnd);
    if (discard) src.resume();
  }
}

// Shared listeners: `this` is the emitter, the flight hangs off it. No closure per request.

function resOnClose(this: Tagged<http.ServerResponse>): void {
  this[kFlight]?.resClosed();
}

function resOnDrain(this: Tagged<http.ServerResponse>): void {
  this[kFlight]?.resDrained();
}

function srcOnData(this: Tagged<Readable>, chunk: Buffer): void {
  this[kFlight]?.bodyData(chunk);
}

function srcOnEnd(this: Tagged<Readable>): void {
  this[kFlight]?.bodyEnd();
}

function bodyOnError(this: Tagged<Readable>, err: Error): void {
  this[kFlight]?.bodyError(err);
}

function writeChunk(flight: Flight, data: Buffer): void {
  flight.write(data);
}
