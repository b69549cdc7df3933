import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { rawError } from './raw-error.js';

type Pair = readonly [http.IncomingMessage, http.ServerResponse];

interface Pipeline {
  /** The request being served: its answer has not ended. */
  current: Pair | undefined;
  /** Requests read behind it, in order, waiting their turn. */
  queue: Pair[];
  /** An answer that closes the connection was given: nothing after it is served. */
  closing: boolean;
  /** Bytes llhttp refused behind the requests still owed an answer: answered after the last of them. */
  refusal: { status: number; code: string | undefined; head: boolean } | undefined;
  /** An upgrade or CONNECT read behind them: node:http gave it the socket; it runs after the last answer. */
  takeover: (() => void) | undefined;
}

/**
 * What node:http lets through and Baton refuses, with `Connection: close`: an HTTP/1.1 request
 * without Host (RFC 9112 3.2; node:http's own check answers 400 but goes on reading, and serving,
 * the requests pipelined behind it); chunked applied more than once (RFC 9112 6.1: llhttp takes
 * `chunked` on one Transfer-Encoding line and `gzip, chunked` on the next, and the list Baton
 * would forward, `chunked, gzip, chunked`, frames the body otherwise than llhttp read it).
 */
function refusalOf(req: http.IncomingMessage): string | undefined {
  if (req.httpVersionMinor === 1 && req.headers.host === undefined) return 'an HTTP/1.1 request without Host';
  const codings = (req.headers['transfer-encoding'] ?? '')
    .toLowerCase()
    .split(',')
    .map((c) => c.replace(OWS, ''))
    .filter((c) => c !== '');
  if (codings.slice(0, -1).includes('chunked')) return 'chunked applied more than once';
  return undefined;
}

/** Optional whitespace around a list element (SP and HTAB only). */
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * The order of requests and answers on the connections node:http reads (those Baton's own
 * parser declined). node:http's parser runs ahead of the answers: it reads pipelined requests,
 * and bytes it refuses, while earlier requests are still being answered (found by the
 * end-to-end differential replay, issue 17). So, as on Baton's own connections:
 *
 * - requests are served one at a time, each once the answer before it has ended (the app never
 *   sees a pipelined request before the one ahead of it is done: RFC 9112 9.3.2 allows parallel
 *   processing of safe methods only);
 * - a request queued behind an answer that closes the connection (node would never send its
 *   answer) is never served; what node lets through and Baton refuses ({@link refusalOf}) gets
 *   such an answer;
 * - a refusal of later bytes, an upgrade or a CONNECT (node hands over the socket at once) waits
 *   for the answers owed before it instead of taking their place.
 *
 * One per proxy server; nothing per connection outlives it (a WeakMap).
 */
export class NodeConnections {
  readonly #pipelines = new WeakMap<Duplex, Pipeline>();
  readonly #serve: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  /** `serve`: hands a request on to the request path, when its turn comes. */
  constructor(serve: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
    this.#serve = serve;
  }

  /** A request node:http read: served now, queued behind the one being answered, or never. */
  admit(req: http.IncomingMessage, res: http.ServerResponse): void {
    const p = this.#pipeline(req.socket);
    if (p.closing || p.refusal !== undefined || p.takeover !== undefined) return;
    const refusal = refusalOf(req);
    if (refusal !== undefined) {
      // node:http writes answers in request order: this one goes out after those still owed.
      p.closing = true;
      const body = `400 Bad Request (${refusal})\n`;
      res.shouldKeepAlive = false;
      res.writeHead(400, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
      return;
    }
    p.queue.push([req, res]);
    if (p.current === undefined) this.#next(req.socket, p);
  }

  /**
   * An upgrade or CONNECT node:http read (it hands over the socket): `take` runs once the
   * answers owed before it have gone out, or never, when one of them closes the connection.
   */
  takeOver(socket: Duplex, take: () => void): void {
    const p = this.#pipelines.get(socket);
    // Behind an answer that closes the connection: node:http closes it after that answer.
    if (p?.closing === true) return;
    if (p === undefined || p.current === undefined) return take();
    p.takeover = take;
  }

  /**
   * Bytes node:http's parser refused: answered now, or after the answers owed before them.
   * When they lie inside the last request read (its body), that request cannot end: it is
   * dropped if it still waits its turn; if it is being served, the refusal is its answer, or,
   * when its answer has begun, the connection is cut.
   */
  refuse(socket: Duplex, status: number, code: string | undefined): void {
    const p = this.#pipelines.get(socket);
    // An answer that closes the connection is given or owed: node:http closes it after that one.
    if (p?.closing === true) return;
    if (p === undefined || p.current === undefined) return rawError(socket, status, code);
    const last = p.queue.at(-1);
    let head = false;
    if (last !== undefined && !last[0].complete) {
      p.queue.pop();
      head = last[0].method === 'HEAD';
    } else if (last === undefined && !p.current[0].complete) {
      if (p.current[1].headersSent) return void socket.destroy();
      return rawError(socket, status, code, p.current[0].method === 'HEAD');
    }
    p.refusal ??= { status, code, head };
  }

  #pipeline(socket: Duplex): Pipeline {
    let p = this.#pipelines.get(socket);
    if (p === undefined) {
      p = { current: undefined, queue: [], closing: false, refusal: undefined, takeover: undefined };
      this.#pipelines.set(socket, p);
    }
    return p;
  }

  /** Serves the next request in line, or, when none is left, answers a refusal waiting for them. */
  #next(socket: Duplex, p: Pipeline): void {
    p.current = undefined;
    if (socket.destroyed) {
      p.queue.length = 0;
      return;
    }
    const pair = p.queue.shift();
    if (pair === undefined) {
      if (p.closing) return;
      if (p.takeover !== undefined) p.takeover();
      else if (p.refusal !== undefined) rawError(socket, p.refusal.status, p.refusal.code, p.refusal.head);
      return;
    }
    p.current = pair;
    const [req, res] = pair;
    res.once('close', () => {
      // An answer that closes the connection went out: node:http closes it, nothing more belongs on it.
      if (res.shouldKeepAlive === false) {
        p.closing = true;
        p.queue.length = 0;
      }
      this.#next(socket, p);
    });
    this.#serve(req, res);
  }
}
