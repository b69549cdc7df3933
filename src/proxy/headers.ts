import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';

/** Hop-by-hop headers (RFC 9110 7.6.1), never forwarded; plus any named in Connection. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

const REQUEST_ID_RE = /^[\x21-\x7e]{1,200}$/;

/** Request ids: a per-process random prefix and a counter; unique and cheap. */
export class RequestIds {
  #prefix = randomBytes(6).toString('hex');
  #n = 0;
  next(): string {
    return `${this.#prefix}-${(++this.#n).toString(36)}`;
  }
}

export interface ForwardedContext {
  /** The client's address as the socket sees it. */
  remoteAddress: string;
  /** Whether that address is a trusted proxy (its X-Forwarded-* are kept). */
  trusted: boolean;
  proto: 'http' | 'https';
  requestId: string;
}

/** The id of a request: the client's X-Request-Id when it is sane, else a new one. */
export function requestIdOf(req: IncomingMessage, ids: RequestIds): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && REQUEST_ID_RE.test(sent) ? sent : ids.next();
}

/**
 * The headers sent upstream: hop-by-hop ones dropped (Transfer-Encoding is left to Node's
 * framing), X-Forwarded-For/-Proto/-Host set, X-Request-Id set. `upgrade` keeps the
 * Connection/Upgrade pair of a WebSocket handshake.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, ctx: ForwardedContext, upgrade = false): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = connectionTokens(headers.connection);
  for (const key in headers) {
    if (HOP_BY_HOP.has(key) || (named !== undefined && named.has(key))) continue;
    out[key] = headers[key];
  }
  const xff = headers['x-forwarded-for'];
  out['x-forwarded-for'] = ctx.trusted && typeof xff === 'string' && xff !== '' ? `${xff}, ${ctx.remoteAddress}` : ctx.remoteAddress;
  const proto = headers['x-forwarded-proto'];
  out['x-forwarded-proto'] = ctx.trusted && typeof proto === 'string' ? proto : ctx.proto;
  const fhost = headers['x-forwarded-host'];
  out['x-forwarded-host'] = ctx.trusted && typeof fhost === 'string' ? fhost : (headers.host ?? '');
  out['x-request-id'] = ctx.requestId;
  if (upgrade) {
    out.connection = 'Upgrade';
    out.upgrade = headers.upgrade;
  }
  return out;
}

/**
 * Response headers from upstream with hop-by-hop ones dropped, as a flat [name, value, ...]
 * list for writeHead: repeated headers (Set-Cookie) and their case survive. Adds X-Request-Id
 * unless the app sent its own.
 */
export function downstreamHeaders(raw: string[], requestId: string): string[] {
  // Runs on every response: a name is lower-cased only when its length is that of a name that
  // matters (hop-by-hop, Transfer-Encoding, X-Request-Id, or one listed in Connection).
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length === 10 && key.toLowerCase() === 'connection') named = connectionTokens(raw[i + 1], named);
  }
  const out: string[] = [];
  let hasId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!;
    if (DOWNSTREAM_LENGTHS[key.length] === 1 || named !== undefined) {
      const lower = key.toLowerCase();
      if (HOP_BY_HOP.has(lower) || lower === 'transfer-encoding' || (named !== undefined && named.has(lower))) continue;
      if (lower === 'x-request-id') hasId = true;
    }
    out.push(key, raw[i + 1]!);
  }
  if (!hasId) out.push('x-request-id', requestId);
  return out;
}

/** 1 at the lengths of the names downstreamHeaders must recognise. */
const DOWNSTREAM_LENGTHS = (() => {
  const t = new Uint8Array(64);
  for (const name of [...HOP_BY_HOP, 'transfer-encoding', 'x-request-id']) t[name.length] = 1;
  return t;
})();

function connectionTokens(value: string | string[] | undefined, into?: Set<string>): Set<string> | undefined {
  if (value === undefined) return into;
  const text = Array.isArray(value) ? value.join(',') : value;
  if (text === '' || text.toLowerCase() === 'keep-alive' || text.toLowerCase() === 'close') return into;
  const set = into ?? new Set<string>();
  for (const t of text.split(',')) {
    const k = t.trim().toLowerCase();
    if (k !== '' && k !== 'close' && k !== 'keep-alive') set.add(k);
  }
  return set;
}

/** A request line and header fields as one latin1 string (header values are latin1 from node:http). */
export function requestHead(method: string, url: string, headers: OutgoingHttpHeaders): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number') head += `${name}: ${value}\r\n`;
    else for (const v of value) head += `${name}: ${v}\r\n`;
  }
  return head + '\r\n';
}
