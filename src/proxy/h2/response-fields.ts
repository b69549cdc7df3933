import { sensitiveHeaders, type OutgoingHttpHeaders } from 'node:http2';

/** Fields that name the connection, not the message: never on HTTP/2 (RFC 9113 8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings', 'content-length']);

/** Fields node:http2 sends once only; an app's repeat of one is dropped, the first kept. */
const SINGLE = new Set(['content-type', 'location', 'etag', 'last-modified', 'server', 'age', 'authorization', 'content-md5', 'from', 'if-modified-since', 'if-unmodified-since', 'max-forwards', 'proxy-authorization', 'range', 'referer', 'retry-after', 'user-agent', 'content-encoding', 'content-language', 'content-location', 'content-range', 'expires', 'date']);

/**
 * Fields whose value is new on every answer (Baton's X-Request-Id), sent as never-indexed
 * literals (RFC 7541 6.2.3). Indexed, each would enter the session's HPACK dynamic table and
 * push out the fields that repeat from answer to answer (Content-Type, Date, ...), which then
 * go out as literals again: measured on a node:http2 server under h2load (c=50), 7-17 µs more
 * per answer, spent in nghttp2's encoder.
 */
const NEVER_INDEXED: readonly string[] = Object.freeze(['x-request-id']);

/** What stream.respond() and sendTrailers() take: a raw name/value list or a header object. */
export type H2Fields = (string | number)[] | OutgoingHttpHeaders;

/** `fields`, marked for node:http2 to send the NEVER_INDEXED names never indexed (its types declare that key a plain `symbol`). */
function neverIndexed<T extends H2Fields>(fields: T): T {
  Reflect.set(fields, sensitiveHeaders, NEVER_INDEXED);
  return fields;
}

/**
 * Whether this node:http2 takes a raw name/value list in stream.respond() (Node 24.7): it is
 * then sent as it is, where a header object is copied, its names listed and read back one by
 * one. Older versions take objects only.
 */
export function respondTakesLists(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 7);
}

/**
 * A response head for node:http2 from Baton's field list: names lower-cased, the
 * connection-specific fields dropped, a repeat of a single-value field dropped (the first
 * kept); `contentLength` (a string or undefined) appended. `lists`: as a raw list (see
 * respondTakesLists), otherwise as an object whose repeated fields are arrays.
 */
export function responseFields(lists: boolean, status: number, fields: readonly string[], contentLength: string | undefined): H2Fields {
  return lists ? asList(status, fields, contentLength) : asObject(status, fields, contentLength);
}

/** Trailers for node:http2: names lower-cased, connection-specific and pseudo-header fields dropped, repeats as arrays. */
export function trailerFields(fields: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name) || name.startsWith(':')) continue;
    const had = out[name];
    out[name] = had === undefined ? fields[i + 1]! : Array.isArray(had) ? [...had, fields[i + 1]!] : [String(had), fields[i + 1]!];
  }
  return out;
}

function asList(status: number, fields: readonly string[], contentLength: string | undefined): (string | number)[] {
  const out: (string | number)[] = [':status', status];
  let singles: string[] | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    if (SINGLE.has(name)) {
      if (singles === undefined) singles = [name];
      else if (singles.includes(name)) continue;
      else singles.push(name);
    }
    out.push(name, fields[i + 1]!);
  }
  if (contentLength !== undefined) out.push('content-length', contentLength);
  return neverIndexed(out);
}

function asObject(status: number, fields: readonly string[], contentLength: string | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status };
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const value = fields[i + 1]!;
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (!SINGLE.has(name)) out[name] = Array.isArray(had) ? [...had, value] : [String(had), value];
  }
  if (contentLength !== undefined) out['content-length'] = contentLength;
  return neverIndexed(out);
}
