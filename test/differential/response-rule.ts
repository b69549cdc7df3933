/**
 * The end-to-end rule for responses: what an app's bytes may become for the client, judged
 * against llhttp's reading of them (as Node's http client reads them: the oracle) and llhttp's
 * reading of what the client got. The client sends the case's request and, pipelined behind it,
 * a marker request (`Connection: close`) on the same connection.
 *
 * - The answer is the first message llhttp reads whose status is not 1xx (1xx are skipped, as
 *   Baton and Node's client skip them). llhttp accepts it when it reads it to its end (a 101 to a
 *   request that asked for no upgrade is not an answer). What follows it in the app's bytes is
 *   not the client's (an unsolicited response: the app's connection is discarded).
 * - Accepted: the client gets the same status and reason (Baton supplies one for an empty
 *   reason), the same end-to-end fields in the same order (hop-by-hop and framing fields aside,
 *   which Baton regenerates; Date and X-Request-Id added when the app sent none), the same body
 *   bytes (chunked decoded on both sides) and trailers, framed by Baton: one Content-Length for a
 *   length-delimited body, however many identical ones the app sent; chunked with the app's
 *   other codings before it for a chunked or close-delimited one; for an answer without a body
 *   (HEAD, 304) the Content-Length the app announced, if any. Then the marker's answer: the
 *   answer ends where llhttp ends it, and the next answer on the kept-alive connection is the
 *   next request's. Baton may refuse more than llhttp: a 502 of its own (its log says why), or
 *   a cut after the head when its chunked decoder is stricter.
 * - Refused by llhttp (a byte it refuses before the answer ends, the bytes ending inside it, no
 *   answer at all): the client gets Baton's 502, nothing of the broken answer, then the marker's
 *   answer; or, when the flaw lies past the head llhttp read, the connection is cut, with at most
 *   that head (as for an accepted answer) and a prefix of its body sent first.
 * - Baton's one leniency (compare.ts, repeatsOneLength): one Content-Length repeated on several
 *   lines is read as one. The oracle is then llhttp's reading of the bytes with the repeats removed.
 */

import { STATUS_CODES } from 'node:http';
import { llhttpParse, type LlMessage, type LlResult } from '../fuzz/llhttp.js';
import type { Reply } from './client.js';
import { HOP_BY_HOP, brief, ows, codings, connectionNamed, sameList, show, values, without } from './fields.js';
import { MARKER_BODY } from './upstream.js';

const isFinal = (m: LlMessage): boolean => m.status === undefined || m.status >= 200 || m.status === 101;

export interface ResponsePlan {
  sent: Buffer;
  /**
   * Whether the upstream leaves its connection open after the bytes: they hold a complete answer
   * that keeps the connection, read the same without the close. Bytes after it then stay on the
   * connection (an unsolicited response: Baton must not give it to the next request), and no
   * close races the pool's next request (a retry, or a 502: no part of this test). Else the
   * upstream closes after the bytes, as the oracle, which reads them up to the close, assumes.
   */
  keepOpen: boolean;
  method: string;
  oracle: LlResult;
  /** The bytes llhttp judged: the app's, or with one repeated Content-Length's repeats removed. */
  judged: Buffer;
  lenient: boolean;
}

export function responseRequest(method: string, n: number): Buffer {
  return Buffer.from(
    `${method} /__replay/response/${n} HTTP/1.1\r\nHost: replay.test\r\n\r\n${method} /__replay/marker/${n} HTTP/1.1\r\nHost: replay.test\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
}

/**
 * The app's bytes without the later lines of a Content-Length repeated with one value in the head
 * of the answer (the first head that is not a 1xx one llhttp read to its end; CRLF line endings
 * only), or undefined when there is no such repeat.
 */
export function withoutRepeatedLength(bytes: Buffer, method: string): Buffer | undefined {
  const ll = llhttpParse(bytes, 'response', method, true);
  let start = 0;
  for (const m of ll.messages) if (m.status !== undefined && m.status < 200 && m.status !== 101 && m.end !== -1) start = m.end;
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n', start);
  if (end === -1) return undefined;
  const lines = text.slice(start, end).split('\r\n');
  const lengths = lines.map((l, i) => ({ i, m: /^content-length:[ \t]*(.*?)[ \t]*$/i.exec(l) })).filter((x) => x.m !== null);
  if (lengths.length < 2 || !lengths.every((x) => x.m![1] === lengths[0]!.m![1])) return undefined;
  const drop = new Set(lengths.slice(1).map((x) => x.i));
  return Buffer.from(text.slice(0, start) + lines.filter((_, i) => !drop.has(i)).join('\r\n') + text.slice(end), 'latin1');
}

export function planResponse(bytes: Buffer, method: string, n: number): ResponsePlan {
  const collapsed = withoutRepeatedLength(bytes, method);
  const judged = collapsed ?? bytes;
  const oracle = llhttpParse(judged, 'response', method, true);
  const open = llhttpParse(judged, 'response', method, false);
  const answer = oracle.messages.find(isFinal);
  const keepOpen = answer !== undefined && answer.status !== 101 && answer.keepAlive && answer.end !== -1 && open.messages.find(isFinal)?.end === answer.end;
  return { sent: responseRequest(method, n), keepOpen, method, oracle, judged, lenient: collapsed !== undefined };
}

export interface ResponseVerdict {
  problems: string[];
  outcome: 'relayed' | 'refused' | 'cut' | 'refused-more' | 'cut-more';
  /** A 502 where llhttp accepted the answer: the request id, to find Baton's reason in its log. */
  requestId: string | undefined;
}

export function judgeResponse(plan: ResponsePlan, n: number, reply: Reply): ResponseVerdict {
  const problems: string[] = [];
  const { oracle, method } = plan;
  const answer = oracle.messages.find(isFinal);
  const accepted = answer !== undefined && answer.end !== -1 && answer.status !== 101;
  // Where the flaw lies past the head llhttp read (a body it refuses or that never ends).
  const flawInBody = answer !== undefined && answer.status !== 101 && answer.end === -1 && (oracle.error === undefined ? oracle.pending : oracle.error.offset >= answer.headEnd);

  const got = llhttpParse(reply.bytes, 'response', method, reply.closed);
  const finals = got.messages.filter(isFinal);
  const first = finals[0];
  const marker = finals[1];
  const fail = (what: string, detail: Record<string, unknown> = {}): void =>
    void problems.push(`${what} ${JSON.stringify({ ...detail, reply: brief(reply.bytes, 300) })}`);

  const isBatons502 = first !== undefined && first.status === 502 && values(first.headers, 'x-baton-error')[0] === 'bad_gateway';
  const checkMarker = (): void => {
    if (marker === undefined || marker.end === -1) return fail("the marker request's answer did not follow");
    if (values(marker.headers, 'x-replay-marker')[0] !== String(n)) return fail("the answer after the case's is not the marker request's");
    if (method !== 'HEAD' && marker.body.toString('latin1') !== MARKER_BODY) fail("the marker's answer has another body", { body: brief(marker.body) });
    if (finals.length > 2) fail('more answers than requests');
  };

  let outcome: ResponseVerdict['outcome'];
  let requestId: string | undefined;
  if (first === undefined) {
    if (!reply.closed) fail('no answer, and the connection is still open');
    if (accepted) outcome = 'cut-more';
    else {
      if (!flawInBody) fail('the connection was cut without a 502 though the flaw is in the head');
      outcome = 'cut';
    }
  } else if (isBatons502) {
    checkMarker();
    outcome = accepted ? 'refused-more' : 'refused';
    if (accepted) requestId = values(first.headers, 'x-request-id')[0];
  } else if (answer === undefined || answer.status === 101 || (!accepted && !flawInBody)) {
    fail('Baton passed on an answer llhttp refuses in its head', { llhttp: oracle.error ?? 'no answer' });
    outcome = 'refused';
  } else {
    compareAnswer(answer, first, method, fail);
    if (first.end === -1) {
      if (!reply.closed) fail('the answer stopped, and the connection is still open');
      outcome = accepted ? 'cut-more' : 'cut';
      if (!answer.body.subarray(0, first.body.length).equals(first.body)) fail('the body sent before the cut is not a prefix of the app\'s', { got: brief(first.body), app: brief(answer.body) });
    } else if (!accepted) {
      fail('Baton delivered in full an answer llhttp refuses', { llhttp: oracle.error ?? 'the bytes end inside it' });
      outcome = 'refused';
    } else {
      outcome = 'relayed';
      if (!first.body.equals(answer.body)) fail('bodies differ', { got: brief(first.body), app: brief(answer.body) });
      if (!sameList(first.trailers, answer.trailers)) fail('trailers differ', { got: show(first.trailers), app: show(answer.trailers) });
      checkMarker();
    }
  }
  if (got.error !== undefined) fail(`what the client got is not HTTP llhttp reads (${got.error.code} at ${got.error.offset})`);
  return { problems, outcome, requestId };
}

/** The head the client got against the app's: status, reason, end-to-end fields, framing. */
function compareAnswer(app: LlMessage, got: LlMessage, method: string, fail: (what: string, detail?: Record<string, unknown>) => void): void {
  if (got.status !== app.status) fail('statuses differ', { got: got.status, app: app.status });
  const reason = app.reason === '' ? (STATUS_CODES[app.status ?? 0] ?? '') : app.reason;
  if (got.reason !== reason) fail('reasons differ', { got: got.reason, app: app.reason });
  if (got.major !== 1 || got.minor !== 1) fail('not answered in HTTP/1.1', { version: `${got.major}.${got.minor}` });

  const named = connectionNamed(app.headers);
  const expected = without(app.headers, [...HOP_BY_HOP, ...named]);
  const added = [...HOP_BY_HOP];
  if (values(app.headers, 'date').length === 0) added.push('date');
  if (values(app.headers, 'x-request-id').length === 0) added.push('x-request-id');
  const fields = without(got.headers, added);
  if (!sameList(fields, expected)) fail('end-to-end fields differ', { got: show(fields), app: show(expected) });

  const cl = values(got.headers, 'content-length');
  const te = codings(got.headers);
  const appTe = codings(app.headers);
  const bodiless = method === 'HEAD' || app.status === 304 || app.status === 204;
  if (bodiless) {
    const announced = app.status === 204 ? undefined : values(app.headers, 'content-length')[0];
    const want = announced !== undefined && /^\d+$/.test(ows(announced)) ? [String(Number(ows(announced)))] : [];
    if (te.length > 0 || !sameList(cl, want)) fail('an answer without a body is framed otherwise than announced', { got: { cl, te }, announced: want });
  } else if (appTe.length > 0 || values(app.headers, 'content-length').length === 0) {
    // Chunked or until the close: chunked to the client, the app's other codings kept.
    const others = appTe.at(-1) === 'chunked' ? appTe.slice(0, -1) : appTe;
    if (cl.length > 0 || te.at(-1) !== 'chunked' || !sameList(te.slice(0, -1), others)) fail('a streamed body is not sent chunked with the app\'s codings', { got: { cl, te }, app: appTe });
  } else {
    const length = String(Number(ows(values(app.headers, 'content-length')[0]!)));
    if (te.length > 0 || cl.length !== 1 || cl[0] !== length) fail('a length-delimited body is not sent with one Content-Length', { got: { cl, te }, length });
  }
}
