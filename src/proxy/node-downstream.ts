import type http from 'node:http';
import type { BodyFraming } from '../http1/types.js';
import { tlsVersionOf } from './tls-version.js';
import type { BodySink, Downstream, DownstreamEvents, Protocol, ResponseBody } from './downstream.js';

const NO_EVENTS: DownstreamEvents = { downstreamDrained() {}, downstreamClosed() {} };
const NONE: BodyFraming = { kind: 'none' };

/** The fields that act on framing or the connection, refused as trailers (as http1/chunked.ts refuses them). */
const CONTROL_FIELDS = new Set(['connection', 'content-length', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function hasControlField(trailers: readonly string[]): boolean {
  for (let i = 0; i < trailers.length; i += 2) if (CONTROL_FIELDS.has(trailers[i]!.toLowerCase())) return true;
  return false;
}

/**
 * A request node:http parsed (the connections Baton's own parser declined: see h1/), behind the
 * same interface as Baton's own. llhttp has validated its framing; the target may be in
 * absolute form, whose authority wins over Host (RFC 9112 3.2.2).
 */
export class NodeDownstream implements Downstream {
  readonly method: string;
  readonly path: string;
  readonly authority: string | undefined;
  readonly headers: readonly string[];
  readonly protocol: Protocol;
  readonly secure: boolean;
  readonly tlsVersion: string | undefined;
  readonly remoteAddress: string;
  readonly body: BodyFraming;
  bodyStarted = false;
  readonly #req: http.IncomingMessage;
  readonly #res: http.ServerResponse;
  readonly #maxBody: number;
  #events: DownstreamEvents = NO_EVENTS;
  #sink: BodySink | undefined;
  #seen = 0;
  #ended = false;

  constructor(req: http.IncomingMessage, res: http.ServerResponse, opts: { secure: boolean; maxBody: number }) {
    this.#req = req;
    this.#res = res;
    this.#maxBody = opts.maxBody;
    this.method = req.method ?? 'GET';
    const target = splitTarget(req.url ?? '/');
    this.path = target.path;
    this.authority = target.authority ?? req.headers.host;
    this.headers = req.rawHeaders;
    this.protocol = req.httpVersionMinor === 0 ? 'http/1.0' : 'http/1.1';
    this.secure = opts.secure;
    this.tlsVersion = opts.secure ? tlsVersionOf(req.socket) : undefined;
    this.remoteAddress = req.socket.remoteAddress ?? '';
    this.body = framing(req);
  }

  get responded(): boolean {
    return this.#res.headersSent;
  }

  attach(events: DownstreamEvents): void {
    this.#events = events;
    this.#res.on('drain', this.#resOnDrain);
    this.#res.once('close', this.#resOnClose);
  }

  readBody(sink: BodySink): void {
    if (this.#sink !== undefined) return this.resumeBody();
    this.#sink = sink;
    const req = this.#req;
    req.on('data', this.#reqOnData);
    req.once('end', this.#reqOnEnd);
    req.once('aborted', this.#reqOnAborted);
    req.on('error', this.#reqOnAborted);
  }

  resumeBody(): void {
    this.#req.resume();
  }

  closeAfterResponse(): void {
    this.#res.shouldKeepAlive = false;
  }

  respond(status: number, reason: string, headers: readonly string[], body: ResponseBody): void {
    const out = [...headers];
    switch (body.kind) {
      case 'none':
        if (body.length !== undefined) out.push('content-length', String(body.length));
        break;
      case 'length':
        out.push('content-length', String(body.length));
        break;
      case 'stream':
        if (body.codings.length > 0 && this.protocol === 'http/1.1') out.push('transfer-encoding', `${body.codings.join(', ')}, chunked`);
        break;
    }
    this.#res.writeHead(status, reason === '' ? undefined : reason, out);
  }

  flush(): void {
    this.#res.flushHeaders();
  }

  write(chunk: Buffer): boolean {
    return this.#ended ? true : this.#res.write(chunk);
  }

  /** node:http may hold a chunk behind the answer of a request ahead of it: not told. */
  get flushed(): boolean {
    return false;
  }

  end(trailers?: readonly string[]): void {
    if (this.#ended) return;
    this.#ended = true;
    if (trailers !== undefined && trailers.length > 0) {
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i]!, trailers[i + 1]!]);
      this.#res.addTrailers(pairs);
    }
    this.#res.end();
    this.#req.resume(); // an unread body is drained so the connection can be reused
  }

  abort(): void {
    this.#ended = true;
    this.#res.destroy();
  }

  #reqOnData = (chunk: Buffer): void => {
    this.#seen += chunk.length;
    if (this.#maxBody > 0 && this.#seen > this.#maxBody) {
      const sink = this.#sink;
      this.#detachBody();
      sink?.onBodyError('too_large');
      return;
    }
    this.bodyStarted = true;
    if (this.#sink?.onBodyData(chunk) === false) this.#req.pause();
  };

  #reqOnEnd = (): void => {
    const sink = this.#sink;
    this.#detachBody();
    const trailers = this.#req.rawTrailers;
    // llhttp takes an empty `Transfer-Encoding:` as a trailer; Baton's own decoder refuses framing
    // and connection fields there (RFC 9110 6.5.1), and the writer cannot send them on (it threw
    // in this 'end' listener, and Baton exited: differential replay, issue 17). Refused the same way.
    if (hasControlField(trailers)) sink?.onBodyError('malformed');
    else sink?.onBodyEnd(trailers);
  };

  #reqOnAborted = (): void => {
    const sink = this.#sink;
    this.#detachBody();
    if (!this.#req.complete) sink?.onBodyError('aborted');
  };

  #detachBody(): void {
    const req = this.#req;
    req.removeListener('data', this.#reqOnData);
    req.removeListener('end', this.#reqOnEnd);
    req.removeListener('aborted', this.#reqOnAborted);
    req.removeListener('error', this.#reqOnAborted);
    this.#sink = undefined;
  }

  #resOnDrain = (): void => {
    this.#events.downstreamDrained();
  };

  #resOnClose = (): void => {
    this.#res.removeListener('drain', this.#resOnDrain);
    if (!this.#res.writableFinished && !this.#ended) this.#events.downstreamClosed();
  };
}

/** Optional whitespace around a list element: SP and HTAB only (`trim` also takes 0xA0, 0x0B, 0x0C). */
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * What llhttp read: Transfer-Encoding (chunked last, it checked) or Content-Length. A
 * Transfer-Encoding that names no coding at all (`Transfer-Encoding:`) is none to llhttp: it
 * reads no chunked body there, so neither does Baton. The codings go on as llhttp read them:
 * trimmed with `trim`, `\xa0gzip` became gzip (differential replay, issue 17).
 */
function framing(req: http.IncomingMessage): BodyFraming {
  const codings = (req.headers['transfer-encoding'] ?? '')
    .toLowerCase()
    .split(',')
    .map((c) => c.replace(OWS, ''))
    .filter((c) => c !== '');
  if (codings.length > 0) return { kind: 'chunked', codings: codings.slice(0, -1) };
  const length = Number(req.headers['content-length'] ?? 0);
  return length > 0 ? { kind: 'length', length } : NONE;
}

/** An origin-form target as is; an absolute-form one split into its authority and path. */
export function splitTarget(target: string): { path: string; authority: string | undefined } {
  if (target.startsWith('/') || target === '*') return { path: target, authority: undefined };
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([^#]*)/i.exec(target);
  if (m === null) return { path: target, authority: undefined };
  const rest = m[2] ?? '';
  return { path: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest, authority: m[1] === '' ? undefined : m[1] };
}
