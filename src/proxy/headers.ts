/**
 * What header fields cross Baton, in each direction. Pure: flat `[name, value, ...]` lists in,
 * flat lists out. The framing fields (Content-Length, Transfer-Encoding) never cross: Baton
 * frames each side itself from what it read (issue 17: a client that named Content-Length in
 * `Connection` got it stripped while its body was still sent, smuggling a second request).
 */
import { randomBytes } from 'node:crypto';
import type { TraceContext } from './trace-context.js';
import type { Downstream } from './downstream.js';
import type { ExchangeContext } from './request-path.js';

/** Hop-by-hop fields (RFC 9110 7.6.1), and the fields Baton sets itself, never passed on as sent. */
const UPSTREAM_DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
  'content-length',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

const DOWNSTREAM_DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding', 'content-length']);

/** 1 at the lengths of the names a list must recognise: most names are never lower-cased. */
function lengths(names: Iterable<string>): Uint8Array {
  const t = new Uint8Array(64);
  for (const n of names) t[n.length] = 1;
  return t;
}
const UPSTREAM_LENGTHS = lengths([...UPSTREAM_DROPPED, 'traceparent']);
const DOWNSTREAM_LENGTHS = lengths([...DOWNSTREAM_DROPPED, 'x-request-id']);

/** A request id the client may keep: visible ASCII, at most 200 characters. */
const REQUEST_ID_RE = /^[\x21-\x7e]{1,200}$/;

/** Request ids: a random prefix per Baton and a counter; unique and cheap. */
export class RequestIds {
  readonly #prefix = randomBytes(6).toString('hex');
  #n = 0;

  /** The client's X-Request-Id when it is sane, else a new one. */
  of(headers: readonly string[]): string {
    const sent = fieldValue(headers, 'x-request-id');
    return sent !== undefined && REQUEST_ID_RE.test(sent) ? sent : `${this.#prefix}-${(++this.#n).toString(36)}`;
  }
}

export interface ForwardedContext {
  /** The client's address as the socket sees it. */
  remoteAddress: string;
  /** Whether that address is a trusted proxy (its X-Forwarded-* are kept). */
  trusted: boolean;
  proto: 'http' | 'https';
  /** The authority Baton routed on (Host, or an absolute-form target's). */
  authority: string;
  requestId: string;
  /** Whether header names with "_" pass (nginx drops them by default: `underscores_in_headers`). */
  underscores: boolean;
  /** W3C traceparent handling (issue 16); without it, traceparent passes as any other field. */
  trace?: TraceContext;
}

/**
 * The fields sent upstream: Host (the authority Baton routed on) first, then the client's fields
 * in order, without hop-by-hop ones, those the client names in Connection, names with "_"
 * (unless allowed), and the ones Baton sets: X-Forwarded-For/-Proto/-Host and X-Request-Id.
 */
export function upstreamHeaders(sent: readonly string[], ctx: ForwardedContext): string[] {
  const out: string[] = ['host', ctx.authority];
  let named: Set<string> | undefined;
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
  let traceparents: string[] | undefined;
  for (let i = 0; i < sent.length; i += 2) {
    const name = sent[i]!;
    if (isName(name, 'connection')) named = connectionTokens(sent[i + 1]!, named);
  }
  for (let i = 0; i < sent.length; i += 2) {
    const name = sent[i]!;
    const value = sent[i + 1]!;
    if (UPSTREAM_LENGTHS[name.length] === 1 || named !== undefined) {
      const lower = name.toLowerCase();
      if (UPSTREAM_DROPPED.has(lower)) {
        if (ctx.trusted) {
          if (lower === 'x-forwarded-for') xff = xff === undefined ? value : `${xff}, ${value}`;
          else if (lower === 'x-forwarded-proto') xfp ??= value;
          else if (lower === 'x-forwarded-host') xfh ??= value;
        }
        continue;
      }
      if (lower === 'traceparent' && ctx.trace !== undefined) {
        (traceparents ??= []).push(value);
        continue;
      }
      if (named !== undefined && named.has(lower)) continue;
    }
    if (!ctx.underscores && name.includes('_')) continue;
    out.push(name, value);
  }
  out.push(
    'x-forwarded-for',
    xff !== undefined && xff !== '' ? `${xff}, ${ctx.remoteAddress}` : ctx.remoteAddress,
    'x-forwarded-proto',
    xfp ?? ctx.proto,
    'x-forwarded-host',
    xfh ?? ctx.authority,
    'x-request-id',
    ctx.requestId,
  );
  if (ctx.trace !== undefined) {
    const trace = ctx.trace.outgoing(traceparents ?? NONE);
    if (trace.dropState) dropField(out, 'tracestate');
    // Last, where the exchange finds it for the access log.
    if (trace.value !== undefined) out.push('traceparent', trace.value);
  }
  return out;
}

const NONE: readonly string[] = [];

/**
 * The fields an exchange sends upstream for the request of `downstream`, routed on `authority`:
 * upstreamHeaders with what the socket says and the request path's settings, and
 * X-Forwarded-Prefix when the route's prefix was stripped from the path (`strippedPrefix`).
 */
export function exchangeHeaders(ctx: ExchangeContext, downstream: Downstream, authority: string, requestId: string, strippedPrefix: string | undefined): string[] {
  const remoteAddress = downstream.remoteAddress;
  const out = upstreamHeaders(downstream.headers, {
    remoteAddress,
    trusted: ctx.trusted.has(remoteAddress),
    proto: downstream.secure ? 'https' : 'http',
    authority,
    requestId,
    underscores: ctx.limits.underscoresInHeaders,
    trace: ctx.trace,
  });
  if (strippedPrefix !== undefined) out.push('x-forwarded-prefix', strippedPrefix);
  return out;
}

/** Remove every `lowerName` field from a flat list (rare: a tracestate whose traceparent was replaced). */
function dropField(fields: string[], lowerName: string): void {
  for (let i = fields.length - 2; i >= 0; i -= 2) if (fields[i]!.toLowerCase() === lowerName) fields.splice(i, 2);
}

/** The value of the last `lowerName` field, looking from the end (where Baton puts its own). */
export function lastFieldValue(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (isName(headers[i]!, lowerName)) return headers[i + 1];
  return undefined;
}

/**
 * Whether the field name `name` is `lowerName` (lower case), ignoring ASCII case. Compared in
 * place rather than through toLowerCase(), which makes a new string for every name a client
 * capitalised (`User-Agent`, `X-Request-Id`): garbage per request on the request path and in
 * the access log. Field names are tokens (ASCII), so ASCII folding is the whole rule.
 */
export function isName(name: string, lowerName: string): boolean {
  const len = lowerName.length;
  if (name.length !== len) return false;
  for (let i = 0; i < len; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lowerName.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The app's fields for the client: without hop-by-hop ones, those the app names in Connection
 * and the framing fields (Baton frames the answer itself); X-Request-Id added unless the app
 * sent its own. Repeated fields (Set-Cookie) and their case survive.
 */
export function downstreamHeaders(raw: readonly string[], requestId: string): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isName(name, 'connection')) named = connectionTokens(raw[i + 1]!, named);
  }
  const out: string[] = [];
  let hasId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (DOWNSTREAM_LENGTHS[name.length] === 1 || named !== undefined) {
      const lower = name.toLowerCase();
      if (DOWNSTREAM_DROPPED.has(lower) || (named !== undefined && named.has(lower))) continue;
      if (lower === 'x-request-id') hasId = true;
    }
    out.push(name, raw[i + 1]!);
  }
  if (!hasId) out.push('x-request-id', requestId);
  return out;
}

/** The first value of a field (case-insensitive name), or undefined. */
export function fieldValue(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (isName(headers[i]!, lowerName)) return headers[i + 1];
  return undefined;
}

/** The tokens a Connection field names, lower case, without `close` and `keep-alive`. */
function connectionTokens(value: string, into: Set<string> | undefined): Set<string> | undefined {
  const text = value.toLowerCase();
  if (text === '' || text === 'keep-alive' || text === 'close') return into;
  let set = into;
  for (const t of text.split(',')) {
    const k = t.trim();
    if (k === '' || k === 'close' || k === 'keep-alive') continue;
    (set ??= new Set()).add(k);
  }
  return set;
}
