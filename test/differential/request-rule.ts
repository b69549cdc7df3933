/**
 * The end-to-end rule for requests: what a client's bytes may become upstream, judged against
 * llhttp's reading of the same bytes (the oracle: `readRequests`) and llhttp's reading of what
 * Baton forwarded. When llhttp reads the bytes to the end of a request that keeps the
 * connection, a sentinel request follows them on the same connection (`SENTINEL`, closing it):
 * the request after the case's must be that one, where llhttp puts it.
 *
 * - Boundaries. llhttp's requests and Baton's answers are walked together (answers come in
 *   request order): each request was forwarded, as the next request that reached the app for
 *   that connection (traced by X-Forwarded-For, the client's own loopback address, so a late or
 *   pooled one still finds its case), or refused by Baton. Nothing else reaches the app: no
 *   request after the last llhttp reads, none after a refusal that closes the connection (no
 *   forwarded byte may start a request the client did not send), none that Baton did not write.
 *   A forwarded request ends (llhttp, reading the upstream's bytes, sees its end) only where
 *   llhttp ended the client's, and the app's bytes on every upstream connection are all HTTP
 *   llhttp reads.
 * - Accept/reject. Where llhttp refuses a byte, or the bytes end inside a request, the request
 *   it was in may reach the app only unfinished, its upstream connection then closed by Baton
 *   (Baton streams bodies: a chunked body's flaw shows after its first chunks went up). Baton
 *   may refuse a request llhttp reads (it declines odd ones to node:http, which is llhttp, and
 *   refuses RTSP, CONNECT, HTTP/2 prefaces and what its limits exclude itself): then its answer
 *   to that request is its own 4xx/5xx, or the connection closes. Each such refusal is reported
 *   with Baton's answer and must match a reason written down in the test.
 * - Upgrades. llhttp stops reading at any upgrade request; Baton performs only WebSocket
 *   handshakes and answers any other upgrade as a plain request (RFC 9110 7.8), the connection
 *   staying HTTP/1.1, so the oracle reads on after those.
 * - Each forwarded request: the same method; the same target, an absolute-form one in origin
 *   form with its authority as Host; HTTP/1.1; the same body bytes (chunked decoded on both
 *   sides; an unfinished one a prefix); framing Baton wrote from what it read: chunked (with the
 *   same codings before it) for a chunked body, one Content-Length for any other non-empty body,
 *   neither for an empty one (or Content-Length: 0); the same trailers; and the same end-to-end
 *   fields in the same order, names and values as sent, where end-to-end leaves out the
 *   hop-by-hop fields, those named in Connection, names with "_" (Baton's default), and the
 *   fields Baton sets: one Host (the routed authority: absolute-form's, else Host's, else
 *   Baton's own address), X-Forwarded-For (the client's address), X-Forwarded-Proto (http),
 *   X-Forwarded-Host (the authority), X-Request-Id (the client's if visible ASCII of at most
 *   200 characters, else Baton's) and traceparent (the client's if it sent one valid one, else
 *   a new trace, the client's tracestate then dropped). A WebSocket handshake also gets Baton's Connection and Upgrade.
 * - Answers. Each forwarded request's answer is the one the app gave that request (the app
 *   numbers its answers); past llhttp's requests there is at most Baton's one refusal of what
 *   llhttp could not read. Where llhttp refused a byte before the last line of the bytes, Baton
 *   answers and closes at once (never waiting for a timeout there); it closes after a request
 *   that does not keep the connection.
 */

import { STATUS_CODES } from 'node:http';
import { llhttpParse, type LlMessage, type LlResult } from '../fuzz/llhttp.js';
import type { Reply } from './client.js';
import { NEW_TRACEPARENT_RE, REQUEST_DROPPED, brief, ows, codings, connectionNamed, originForm, sameList, show, validTraceparent, values, without } from './fields.js';
import type { Forwarded } from './upstream.js';

/** Appended to a case llhttp reads to its end on a kept-alive connection: the next request must be this one. */
export const SENTINEL = 'GET /__replay/sentinel HTTP/1.1\r\nHost: sentinel.test\r\nConnection: close\r\n\r\n';

const REQUEST_ID_RE = /^[\x21-\x7e]{1,200}$/;

export interface RequestPlan {
  /** The bytes sent: the case's, and the sentinel when it applies. */
  sent: Buffer;
  oracle: LlResult;
  sentinel: boolean;
  /** Baton may rightly wait for more bytes (they end inside a message, or in the line llhttp refused). */
  mayWait: boolean;
}

/** A WebSocket handshake: the one upgrade Baton performs (RFC 6455: a GET asking for websocket). */
export function isHandshake(m: LlMessage): boolean {
  return m.method === 'GET' && values(m.headers, 'upgrade').some((u) => ows(u).toLowerCase() === 'websocket');
}

/** After `m`, llhttp's reading stops (another protocol follows), and Baton's too. */
function stopsReading(m: LlMessage): boolean {
  return m.upgrade && (m.method === 'CONNECT' || isHandshake(m));
}

/**
 * llhttp's reading of a connection's bytes as Baton serves them. llhttp stops at any upgrade
 * request (what follows is another protocol, should the server agree); Baton agrees only to a
 * WebSocket handshake and answers any other upgrade as a plain request (RFC 9110 7.8 lets a
 * server ignore Upgrade), so the connection stays HTTP/1.1 and the reading goes on after it.
 */
export function readRequests(bytes: Buffer): LlResult {
  const messages: LlMessage[] = [];
  for (let off = 0; ; ) {
    const ll = llhttpParse(bytes.subarray(off), 'request', 'GET', false);
    for (const m of ll.messages) messages.push({ ...m, headEnd: m.headEnd + off, end: m.end === -1 ? -1 : m.end + off });
    const last = ll.messages.at(-1);
    const error = ll.error === undefined ? undefined : { ...ll.error, offset: ll.error.offset + off };
    if (last === undefined || !last.upgrade || stopsReading(last) || last.end === -1 || !last.keepAlive || error !== undefined) return { messages, error, pending: ll.pending };
    off += last.end;
    if (off >= bytes.length) return { messages, error: undefined, pending: false };
  }
}

/** What to send for a case's bytes, and what llhttp reads in them. */
export function planRequest(bytes: Buffer): RequestPlan {
  const alone = readRequests(bytes);
  const last = alone.messages.at(-1);
  const reusable = alone.error === undefined && !alone.pending && last !== undefined && last.end === bytes.length && last.keepAlive && !stopsReading(last);
  if (reusable) {
    const sent = Buffer.concat([bytes, Buffer.from(SENTINEL, 'latin1')]);
    const oracle = readRequests(sent);
    if (oracle.error === undefined && oracle.messages.length === alone.messages.length + 1 && oracle.messages.at(-1)!.end === sent.length) {
      return { sent, oracle, sentinel: true, mayWait: false };
    }
  }
  // Baton must close at once where llhttp refused a byte before the last line, or after a request that closes.
  const refusedEarly = alone.error !== undefined && alone.error.offset < bytes.lastIndexOf(0x0a) + 1;
  const closes = alone.error === undefined && !alone.pending && last !== undefined && last.end !== -1 && !last.keepAlive && !last.upgrade;
  return { sent: bytes, oracle: alone, sentinel: false, mayWait: !refusedEarly && !closes };
}

export interface RequestVerdict {
  problems: string[];
  /** For the tally: 'forwarded', 'refused', 'waited', or 'refused-more' (then `refusal` says how). */
  outcome: 'forwarded' | 'refused' | 'waited' | 'refused-more';
  refusal: string | undefined;
  /** The message llhttp read and Baton refused (for the refusal rules), and the one before it. */
  refused: LlMessage | undefined;
  before: LlMessage | undefined;
}

export interface RequestContext {
  address: string;
  /** Host Baton sends for a request that named none: its listener's address. */
  fallbackAuthority: string;
}

const isFinal = (m: LlMessage): boolean => m.status === undefined || m.status >= 200 || m.status === 101;

/**
 * Judges one case: `forwarded` are the requests traced to its connection, in arrival order.
 * Walks llhttp's requests and Baton's answers together (HTTP/1.1 answers come in request order):
 * each request was either forwarded (the next forwarded one, answered by the app) or refused
 * (answered by Baton itself, or the connection closed).
 */
export function judgeRequest(plan: RequestPlan, forwarded: readonly Forwarded[], reply: Reply, ctx: RequestContext): RequestVerdict {
  const problems: string[] = [];
  const oracle = plan.oracle;
  const msgs = oracle.messages;
  // An answer past llhttp's requests refuses bytes whose method nobody knows: read as a GET's.
  const methods = [...msgs.map((m) => m.method ?? 'GET'), 'GET'];
  const answers = llhttpParse(reply.bytes, 'response', methods, reply.closed);
  if (answers.error !== undefined) problems.push(`Baton's answers are not HTTP llhttp reads (${answers.error.code} at ${answers.error.offset}): ${brief(reply.bytes, 400)}`);
  const finals = answers.messages.filter(isFinal);

  let k = 0;
  let a = 0;
  let refusal: { text: string; message: LlMessage; before: LlMessage | undefined } | undefined;
  let stopped = false;
  for (let i = 0; i < msgs.length && !stopped; i++) {
    const m = msgs[i]!;
    const answer = finals[a];
    const echo = answer === undefined ? undefined : values(answer.headers, 'x-replay-echo')[0];
    const own = answer !== undefined && echo === undefined;
    const f = forwarded[k];
    if (f !== undefined && (!own || f.message.end === -1)) {
      k++;
      const at = `request ${i + 1}, forwarded on upstream connection ${f.conn.id}`;
      const complete = f.message.end !== -1;
      if (complete && m.end === -1) problems.push(`${at}: reached the app complete, but llhttp never ends it in the client's bytes (${oracle.error?.code ?? 'they end inside it'})`);
      compareForwarded(m, f, ctx, problems, at);
      if (!complete) {
        // Given up on mid-way: Baton's refusal (or a cut) is its answer, and nothing follows.
        if (!f.conn.closed) problems.push(`${at}: left unfinished on an upstream connection Baton did not close`);
        if (own) a++;
        if (m.end !== -1) refusal ??= { text: own ? refusalText(answer) : 'cut mid-body', message: m, before: msgs[i - 1] };
        stopped = true;
      } else if (answer === undefined) {
        // A handshake's answer may be cut short by the tunnel closing; anything else must arrive.
        if (!stopsReading(m)) problems.push(`${at}: the client got no answer to it`);
        stopped = true;
      } else {
        a++;
        if (echo !== String(f.echo)) problems.push(`${at}: answered with the app's answer to another request (x-replay-echo ${echo ?? 'missing'}, expected ${f.echo}): ${brief(reply.bytes, 400)}`);
      }
      if (stopsReading(m)) stopped = true;
    } else if (own) {
      a++;
      if (answer.status !== undefined && answer.status < 400) problems.push(`request ${i + 1}: Baton answered ${answer.status} itself, without forwarding it`);
      if (m.end !== -1) refusal ??= { text: refusalText(answer), message: m, before: msgs[i - 1] };
      if (!answer.keepAlive) stopped = true;
    } else {
      if (m.end !== -1) refusal ??= { text: reply.closed ? 'closed without an answer' : 'no answer yet', message: m, before: msgs[i - 1] };
      stopped = true;
    }
  }
  // The bytes llhttp refused before any head: Baton's one refusal.
  const last = finals[a];
  if (!stopped && last !== undefined && values(last.headers, 'x-replay-echo').length === 0 && (oracle.error !== undefined || oracle.pending)) {
    a++;
    if (last.status !== undefined && last.status < 400) problems.push(`Baton answered ${last.status} to bytes llhttp refuses`);
  }
  for (; k < forwarded.length; k++) {
    const f = forwarded[k]!;
    problems.push(`forwarded request ${k + 1} (upstream connection ${f.conn.id}) is none llhttp reads in the client's bytes, or came after a refusal: ${brief(f.conn.bytes.subarray(Math.max(0, f.message.headEnd - 400), f.message.end === -1 ? undefined : f.message.end))}`);
  }
  if (a < finals.length) problems.push(`${finals.length - a} more answer(s) than requests: ${brief(reply.bytes, 400)}`);

  if (!reply.closed && !plan.mayWait) {
    const why = oracle.error !== undefined ? `llhttp refused byte ${oracle.error.offset} (${oracle.error.code})` : 'the last request closes the connection';
    problems.push(`Baton neither answered and closed nor closed within ${Math.round(reply.ms)} ms, though ${why}`);
  }

  let outcome: RequestVerdict['outcome'];
  if (refusal !== undefined) outcome = 'refused-more';
  else if (oracle.error !== undefined) outcome = 'refused';
  else if (oracle.pending || msgs.every((m) => m.end === -1)) outcome = 'waited';
  else outcome = 'forwarded';
  return { problems, outcome, refusal: refusal?.text, refused: refusal?.message, before: refusal?.before };
}

/** Baton's own answer, as the tally and the refusal rules see it: status and the body's first line. */
function refusalText(a: LlMessage): string {
  const line = a.body.toString('latin1').split('\n')[0]!.trim();
  return `${a.status} ${line === '' ? (STATUS_CODES[a.status ?? 0] ?? '') : line}`;
}

function compareForwarded(m: LlMessage, f: Forwarded, ctx: RequestContext, problems: string[], at: string): void {
  const fm = f.message;
  const fail = (what: string, detail: Record<string, unknown>): void => void problems.push(`${at}: ${what} ${JSON.stringify(detail)}`);
  if (fm.method !== m.method) fail('methods differ', { baton: fm.method, llhttp: m.method });
  const target = originForm(m.url ?? '');
  if (fm.url !== target.path) fail('targets differ', { forwarded: fm.url, expected: target.path, sent: m.url });
  if (fm.major !== 1 || fm.minor !== 1) fail('not forwarded as HTTP/1.1', { version: `${fm.major}.${fm.minor}` });

  // The fields Baton sets.
  const authority = target.authority ?? values(m.headers, 'host')[0] ?? ctx.fallbackAuthority;
  const one = (name: string, expected: string | RegExp): void => {
    const got = values(fm.headers, name);
    const ok = got.length === 1 && (typeof expected === 'string' ? got[0] === expected : expected.test(got[0]!));
    if (!ok) fail(`${name} is not what Baton sets`, { forwarded: got, expected: String(expected) });
  };
  one('host', authority);
  one('x-forwarded-for', ctx.address);
  one('x-forwarded-proto', 'http');
  one('x-forwarded-host', authority);
  const sentId = values(m.headers, 'x-request-id')[0];
  one('x-request-id', sentId !== undefined && REQUEST_ID_RE.test(sentId) ? sentId : REQUEST_ID_RE);
  // traceparent (Baton's default, `generate`): one valid one goes on as sent; none, several or a
  // malformed one is replaced by a new trace, and the client's tracestate, which belonged to it,
  // dropped. One named in Connection is hop-by-hop: gone before, as if not sent.
  const named = connectionNamed(m.headers);
  const sentTrace = named.has('traceparent') ? [] : values(m.headers, 'traceparent');
  const keptTrace = sentTrace.length === 1 && validTraceparent(sentTrace[0]!);
  one('traceparent', keptTrace ? sentTrace[0]! : NEW_TRACEPARENT_RE);

  // End-to-end fields: as sent, in order.
  const traceDropped = keptTrace || sentTrace.length === 0 ? ['traceparent'] : ['traceparent', 'tracestate'];
  const expected = without(m.headers, [...REQUEST_DROPPED, ...named, ...traceDropped], (n) => n.includes('_'));
  const batonSets = ['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'traceparent', 'content-length', 'transfer-encoding'];
  if (m.upgrade && isHandshake(m)) batonSets.push('connection', 'upgrade');
  const got = without(fm.headers, batonSets);
  if (!sameList(expected, got)) fail('end-to-end fields differ', { forwarded: show(got), expected: show(expected) });

  // Framing, from what Baton read.
  const te = codings(m.headers);
  const fte = codings(fm.headers);
  const fcl = values(fm.headers, 'content-length');
  if (te.length > 0) {
    if (!sameList(te.slice(0, -1), fte.slice(0, -1)) || fte.at(-1) !== 'chunked' || fcl.length > 0) fail('a chunked body is not forwarded chunked with the same codings', { forwarded: { te: fte, cl: fcl }, sent: te });
  } else if (m.body.length > 0 || (m.end === -1 && values(m.headers, 'content-length').some((v) => ows(v) !== '0'))) {
    if (fte.length > 0 || fcl.length !== 1 || !/^\d+$/.test(fcl[0]!)) fail('a body is not forwarded with one Content-Length', { forwarded: { te: fte, cl: fcl } });
  } else if (fte.length > 0 || fcl.some((v) => v !== '0') || fcl.length > 1) fail('an empty body is forwarded with framing', { forwarded: { te: fte, cl: fcl } });

  // The body: the same bytes; an unfinished one, a prefix of what the client sent.
  if (fm.end !== -1) {
    if (!fm.body.equals(m.body)) fail('bodies differ', { forwarded: brief(fm.body), sent: brief(m.body) });
    if (!sameList(fm.trailers, m.trailers)) fail('trailers differ', { forwarded: show(fm.trailers), sent: show(m.trailers) });
  } else if (!m.body.subarray(0, fm.body.length).equals(fm.body)) fail('the unfinished body is not a prefix of the one sent', { forwarded: brief(fm.body), sent: brief(m.body) });
}
