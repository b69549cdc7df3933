/**
 * The differential rule, one function per direction: Baton's parsers and llhttp read the same
 * bytes; a disagreement throws an Error that says what differed.
 *
 * Requests: `decline` and `reject` never disagree (llhttp decides those connections, or Baton
 * refuses what it must not pass on). A `head` must be one llhttp read too, with the same method,
 * target, version, header list, upgrade and end; its body must decode to llhttp's body and
 * trailers and end where llhttp's message ends; Baton keeps a connection alive only when llhttp
 * does. Responses: Baton may call invalid what llhttp takes, never the reverse (but for one
 * leniency: one Content-Length repeated, see repeatsOneLength), and a head it
 * reads must agree with llhttp's as above. Both: where llhttp refused a byte before the line the
 * bytes end in, Baton must not still be waiting for more; a body Baton's decoder refuses must be
 * one llhttp refuses too, or break a rule Baton holds to on purpose (stricterChunkRule).
 */

import { ChunkedDecoder } from '../../src/http1/chunked.js';
import { ParseError } from '../../src/http1/parse-error.js';
import { RequestHeadParser } from '../../src/http1/request-head.js';
import { ResponseHeadParser } from '../../src/http1/response-head.js';
import type { BodyFraming, HeadLimits } from '../../src/http1/types.js';
import { llhttpParse, type LlMessage, type LlResult } from './llhttp.js';

export const LIMITS: HeadLimits = { maxHeadBytes: 64 * 1024, maxHeaders: 200 };

/** What Baton did with each message, for the statistics a run reports. */
export type Outcome = 'head' | 'decline' | 'reject' | 'invalid' | 'incomplete' | 'body-error';

export interface Verdict {
  outcomes: Outcome[];
  llhttp: LlResult;
}

/**
 * Where Baton is fed: `splits` are cut points as fractions of the bytes left (each call parses
 * the bytes of the head up to the next cut); none means all at once, 'bytes' one byte at a time.
 */
export type Splits = readonly number[] | 'bytes';

function cuts(len: number, splits: Splits): number[] {
  if (splits === 'bytes') return Array.from({ length: len }, (_, i) => i + 1);
  const out = new Set<number>();
  for (const f of splits) out.add(Math.max(1, Math.min(len, Math.floor(f * len))));
  out.add(len);
  return [...out].sort((a, b) => a - b);
}

class Disagreement extends Error {
  override readonly name = 'Disagreement';
}

function fail(what: string, detail: Record<string, unknown>): never {
  throw new Disagreement(`${what}: ${JSON.stringify(detail, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))}`);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Decodes a body Baton framed, fed in pieces. */
function readBody(
  bytes: Buffer,
  start: number,
  body: BodyFraming,
  splits: Splits,
): { end: number; data: Buffer; trailers: readonly string[] } | { error: ParseError } | 'more' {
  if (body.kind === 'none') return { end: start, data: Buffer.alloc(0), trailers: [] };
  if (body.kind === 'length') {
    if (bytes.length - start < body.length) return 'more';
    return { end: start + body.length, data: bytes.subarray(start, start + body.length), trailers: [] };
  }
  if (body.kind === 'close') return { end: bytes.length, data: bytes.subarray(start), trailers: [] };
  const decoder = new ChunkedDecoder();
  const parts: Buffer[] = [];
  let from = start;
  try {
    for (const cut of cuts(bytes.length - start, splits)) {
      const piece = bytes.subarray(from, start + cut);
      const end = decoder.feed(piece, 0, (list: Buffer[], d) => list.push(Buffer.from(d)), parts);
      if (end !== -1) return { end: from + end, data: Buffer.concat(parts), trailers: decoder.trailers };
      from = start + cut;
    }
  } catch (e) {
    if (e instanceof ParseError) return { error: e };
    throw e;
  }
  return 'more';
}

const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
/** A chunk-size line with extensions as RFC 9112 7.1.1 writes it, no whitespace (llhttp allows none). */
const STRICT_CHUNK_LINE = new RegExp(`^[0-9A-Fa-f]+(?:;${TCHAR}+(?:=(?:${TCHAR}+|"(?:[\\t !#-\\[\\]-~\\x80-\\xff]|\\\\[\\t -~\\x80-\\xff])*"))?)*$`);

/**
 * Where Baton's chunked decoder is stricter than llhttp, on purpose: extensions with empty names
 * or values or a token run into a quoted string (RFC 9112 7.1.1 grammar), and framing or
 * connection fields as trailers (RFC 9110 6.5.1; llhttp closes on a trailer `Connection: close`).
 * True when some line of the body from `from` is one of those.
 */
export function stricterChunkRule(bytes: Buffer, from: number): boolean {
  return bytes
    .subarray(from)
    .toString('latin1')
    .split('\r\n')
    .some((line) => (/^[0-9A-Fa-f]+;/.test(line) && !STRICT_CHUNK_LINE.test(line)) || /^(?:connection|proxy-connection|upgrade|content-length|transfer-encoding):/i.test(line));
}

/**
 * Baton decides a field line when it ends (a framing name at its LF, llhttp at its colon): where
 * llhttp refused a byte before the line the bytes end in, Baton must have refused too, not wait.
 */
function waitsTooLong(bytes: Buffer, ll: LlResult): boolean {
  return ll.error !== undefined && ll.error.offset < bytes.lastIndexOf(0x0a) + 1;
}

function compareBody(
  bytes: Buffer,
  at: number,
  body: BodyFraming,
  m: LlMessage,
  ll: LlResult,
  splits: Splits,
): Outcome | number {
  const r = readBody(bytes, at, body, splits);
  if (r === 'more') {
    if (m.end !== -1) fail('Baton wants more body, llhttp ended the message', { at, llEnd: m.end });
    if (waitsTooLong(bytes, ll)) fail('Baton wants more body, llhttp refused it lines before', { at, error: ll.error });
    return 'incomplete';
  }
  if ('error' in r) {
    if ((m.end !== -1 || ll.error === undefined) && !stricterChunkRule(bytes, at)) fail('Baton refused a body llhttp took', { at, code: r.error.code, message: r.error.message });
    return 'body-error';
  }
  if (m.end !== r.end) fail('message ends differ', { baton: r.end, llhttp: m.end, error: ll.error });
  if (!m.body.equals(r.data)) fail('bodies differ', { baton: r.data, llhttp: m.body });
  if (!sameList(m.trailers, r.trailers)) fail('trailers differ', { baton: r.trailers, llhttp: m.trailers });
  return r.end;
}

/** Feeds Baton's request parser `bytes` (a connection's first bytes) and checks it against llhttp. */
export function compareRequest(bytes: Buffer, splits: Splits = [], ll: LlResult = llhttpParse(bytes, 'request')): Verdict {
  const outcomes: Outcome[] = [];
  const parser = new RequestHeadParser(LIMITS);
  let off = 0;
  for (let k = 0; off < bytes.length; k++) {
    let r = parser.parse(bytes.subarray(off, off));
    for (const cut of cuts(bytes.length - off, splits)) {
      r = parser.parse(bytes.subarray(off, off + cut));
      if (r.kind !== 'incomplete') break;
    }
    const m = ll.messages[k];
    if (r.kind === 'decline' || r.kind === 'reject') {
      outcomes.push(r.kind);
      break;
    }
    if (r.kind === 'incomplete') {
      if (m !== undefined) fail('Baton wants more head, llhttp read one', { off, llHeadEnd: m.headEnd });
      if (waitsTooLong(bytes, ll)) fail('Baton wants more head, llhttp refused it lines before', { off, error: ll.error });
      parser.reset();
      outcomes.push('incomplete');
      break;
    }
    if (r.kind !== 'head') throw new Error('unreachable');
    const h = r.head;
    if (m === undefined && repeatsOneLength(h.headers)) {
      outcomes.push('head');
      break;
    }
    if (m === undefined) fail('Baton read a head llhttp did not', { off, head: h, llError: ll.error });
    if (m.headEnd !== off + r.size) fail('head ends differ', { baton: off + r.size, llhttp: m.headEnd });
    if (m.method !== h.method) fail('methods differ', { baton: h.method, llhttp: m.method });
    if (m.url !== h.target) fail('targets differ', { baton: h.target, llhttp: m.url });
    if (m.major !== 1 || m.minor !== h.minor) fail('versions differ', { baton: h.minor, llhttp: [m.major, m.minor] });
    if (!sameList(m.headers, h.headers)) fail('header lists differ', { baton: h.headers, llhttp: m.headers });
    if ((h.upgrade !== undefined) !== m.upgrade) fail('upgrade differs', { baton: h.upgrade, llhttp: m.upgrade });
    if (h.keepAlive && !m.keepAlive) fail('Baton keeps alive a connection llhttp closes', { off });
    outcomes.push('head');
    if (h.upgrade !== undefined) break;
    const end = compareBody(bytes, off + r.size, h.body, m, ll, splits);
    if (typeof end !== 'number') {
      outcomes.push(end);
      break;
    }
    if (!h.keepAlive) break;
    off = end;
  }
  return { outcomes, llhttp: ll };
}

/** Feeds Baton's response parser the bytes an upstream sent for a `method` request. */
/**
 * Baton's one leniency over llhttp in responses: the same Content-Length on two or more lines
 * (llhttp refuses it; RFC 9110 8.6 lets a recipient read it as one, and Baton sends one on).
 */
function repeatsOneLength(headers: readonly string[]): boolean {
  const values: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'content-length') values.push(headers[i + 1]!);
  return values.length > 1 && values.every((v) => v === values[0]);
}

/**
 * llhttp refused a Content-Length line that repeats the value of the one before it: Baton's
 * leniency (repeatsOneLength), so Baton may still wait for the rest of the head there.
 */
function refusedARepeatedLength(bytes: Buffer, off: number, ll: LlResult): boolean {
  const e = ll.error;
  if (e === undefined || e.code !== 'HPE_UNEXPECTED_CONTENT_LENGTH') return false;
  const lineEnd = bytes.indexOf('\r\n', e.offset);
  const lines = bytes.toString('latin1', off, lineEnd === -1 ? bytes.length : lineEnd).split('\r\n');
  const values = lines.filter((l) => /^content-length:/i.test(l)).map((l) => l.slice(15).replace(/^[ \t]+|[ \t]+$/g, ''));
  return values.length > 1 && values.every((v) => v === values[0]);
}

export function compareResponse(bytes: Buffer, method: string, splits: Splits = [], ll: LlResult = llhttpParse(bytes, 'response', method)): Verdict {
  const outcomes: Outcome[] = [];
  const parser = new ResponseHeadParser(LIMITS);
  let off = 0;
  for (let k = 0; off < bytes.length; k++) {
    let r = parser.parse(bytes.subarray(off, off), method);
    for (const cut of cuts(bytes.length - off, splits)) {
      r = parser.parse(bytes.subarray(off, off + cut), method);
      if (r.kind !== 'incomplete') break;
    }
    const m = ll.messages[k];
    if (r.kind === 'invalid') {
      outcomes.push('invalid');
      break;
    }
    if (r.kind === 'incomplete') {
      if (m !== undefined) fail('Baton wants more head, llhttp read one', { off, llHeadEnd: m.headEnd });
      if (waitsTooLong(bytes, ll) && !refusedARepeatedLength(bytes, off, ll)) fail('Baton wants more head, llhttp refused it lines before', { off, error: ll.error });
      parser.reset();
      outcomes.push('incomplete');
      break;
    }
    if (r.kind !== 'head') throw new Error('unreachable');
    const h = r.head;
    if (m === undefined && repeatsOneLength(h.headers)) {
      outcomes.push('head');
      break;
    }
    if (m === undefined) fail('Baton read a head llhttp did not', { off, head: h, llError: ll.error });
    if (m.headEnd !== off + r.size) fail('head ends differ', { baton: off + r.size, llhttp: m.headEnd });
    if (m.status !== h.status) fail('statuses differ', { baton: h.status, llhttp: m.status });
    if (m.reason !== h.reason) fail('reasons differ', { baton: h.reason, llhttp: m.reason });
    if (m.major !== 1 || m.minor !== h.minor) fail('versions differ', { baton: h.minor, llhttp: [m.major, m.minor] });
    if (!sameList(m.headers, h.headers)) fail('header lists differ', { baton: h.headers, llhttp: m.headers });
    if (h.keepAlive && !m.keepAlive) fail('Baton keeps alive a connection llhttp closes', { off });
    outcomes.push('head');
    if (h.status === 101) break;
    const end = compareBody(bytes, off + r.size, h.body, m, ll, splits);
    if (typeof end !== 'number') {
      outcomes.push(end);
      break;
    }
    if (h.status >= 200 && !h.keepAlive) break;
    off = end;
  }
  return { outcomes, llhttp: ll };
}
