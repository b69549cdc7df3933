/**
 * llhttp, driven directly: Node's own HTTPParser binding (through `_http_common`, which loads
 * without a deprecation warning on Node 20 and 24), initialized as Node's http server (requests)
 * and http client (responses) do by default: no lenient flags. Bytes are fed one at a time, so
 * each message's end offset is exact.
 */

import { createRequire } from 'node:module';

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(buf: Buffer): number | (Error & { code: string; reason: string; bytesParsed: number });
  finish(): undefined | (Error & { code: string; reason: string });
  close(): void;
  [k: number]: unknown;
}

interface HTTPParserClass {
  new (): Parser;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}

const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: HTTPParserClass };

/** llhttp's method numbers (its `METHODS` enum). */
const METHOD_NAMES: Record<number, string> = {
  0: 'DELETE', 1: 'GET', 2: 'HEAD', 3: 'POST', 4: 'PUT', 5: 'CONNECT', 6: 'OPTIONS', 7: 'TRACE', 8: 'COPY', 9: 'LOCK',
  10: 'MKCOL', 11: 'MOVE', 12: 'PROPFIND', 13: 'PROPPATCH', 14: 'SEARCH', 15: 'UNLOCK', 16: 'BIND', 17: 'REBIND',
  18: 'UNBIND', 19: 'ACL', 20: 'REPORT', 21: 'MKACTIVITY', 22: 'CHECKOUT', 23: 'MERGE', 24: 'M-SEARCH', 25: 'NOTIFY',
  26: 'SUBSCRIBE', 27: 'UNSUBSCRIBE', 28: 'PATCH', 29: 'PURGE', 30: 'MKCALENDAR', 31: 'LINK', 32: 'UNLINK', 33: 'SOURCE',
  34: 'PRI', 35: 'DESCRIBE', 36: 'ANNOUNCE', 37: 'SETUP', 38: 'PLAY', 39: 'PAUSE', 40: 'TEARDOWN', 41: 'GET_PARAMETER',
  42: 'SET_PARAMETER', 43: 'REDIRECT', 44: 'RECORD', 45: 'FLUSH', 46: 'QUERY',
};

export interface LlMessage {
  /** Requests. */
  method: string | undefined;
  url: string | undefined;
  /** Responses. */
  status: number | undefined;
  reason: string | undefined;
  major: number;
  minor: number;
  headers: string[];
  upgrade: boolean;
  keepAlive: boolean;
  /** Offset just past the head. */
  headEnd: number;
  /** Offset just past the message, -1 while it has not ended. */
  end: number;
  body: Buffer;
  trailers: string[];
}

export interface LlResult {
  /** Every message whose head was read, in order. */
  messages: LlMessage[];
  /** llhttp's refusal: its code (HPE_...), reason and the offset of the byte refused. */
  error: { code: string; reason: string; offset: number } | undefined;
  /** A message was left unfinished at the end of the bytes (no error). */
  pending: boolean;
}

/** The llhttp version in this Node. */
export const LLHTTP_VERSION: string = process.versions.llhttp ?? 'unknown';

/**
 * Parses `bytes` as llhttp does in node:http (`request`) or its client (`response`, answering a
 * `requestMethod` request: HEAD answers and 1xx have no body, as the client tells llhttp). Pipelined
 * requests: one method per request, the n-th for the n-th final (non-1xx) answer.
 * `eof`: the connection closes after the bytes (ends a close-delimited response body).
 */
export function llhttpParse(bytes: Buffer, type: 'request' | 'response', requestMethod: string | readonly string[] = 'GET', eof = true): LlResult {
  const p = new HTTPParser();
  p.initialize(type === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, 1 << 24, HTTPParser.kLenientNone);
  const messages: LlMessage[] = [];
  let current: LlMessage | undefined;
  let pendingHeaders: string[] = [];
  let pendingUrl = '';
  let bodyParts: Buffer[] = [];
  let offset = 0;
  let inMessage = false;
  let upgraded = false;
  let answers = 0;

  p[HTTPParser.kOnMessageBegin] = () => {
    inMessage = true;
    pendingHeaders = [];
    pendingUrl = '';
  };
  p[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    if (current !== undefined && current.end === -1 && current.headEnd !== -1) current.trailers.push(...headers);
    else {
      pendingHeaders.push(...headers);
      pendingUrl += url ?? '';
    }
  };
  p[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    status: number | undefined,
    reason: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    current = {
      method: method === undefined ? undefined : METHOD_NAMES[method],
      url: type === 'request' ? (url ?? pendingUrl) : undefined,
      status,
      reason,
      major,
      minor,
      headers: headers ?? pendingHeaders,
      upgrade,
      keepAlive,
      headEnd: offset + 1,
      end: -1,
      body: Buffer.alloc(0),
      trailers: [],
    };
    messages.push(current);
    bodyParts = [];
    if (upgrade) upgraded = true;
    if (type !== 'response') return 0;
    if (status !== undefined && status >= 100 && status < 200) return 1;
    const answering = typeof requestMethod === 'string' ? requestMethod : requestMethod[Math.min(answers, requestMethod.length - 1)];
    answers++;
    return answering === 'HEAD' ? 1 : 0;
  };
  p[HTTPParser.kOnBody] = (b: Buffer) => {
    bodyParts.push(Buffer.from(b));
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    inMessage = false;
    if (current !== undefined) {
      current.end = offset + 1;
      current.body = Buffer.concat(bodyParts);
    }
  };
  p[HTTPParser.kOnExecute] = () => {};

  let error: LlResult['error'];
  try {
    for (offset = 0; offset < bytes.length; offset++) {
      const r = p.execute(bytes.subarray(offset, offset + 1));
      if (typeof r !== 'number') {
        error = { code: r.code, reason: r.reason, offset };
        break;
      }
      // After an upgrade (or CONNECT) the rest is another protocol: llhttp stops there.
      if (upgraded && !inMessage) break;
    }
    if (error === undefined && !upgraded && eof) {
      offset = bytes.length - 1;
      const r = p.finish();
      // Ending mid-message is not a refusal of any byte: the message is pending.
      if (r !== undefined && r.code !== 'HPE_INVALID_EOF_STATE') error = { code: r.code, reason: r.reason, offset: bytes.length };
    }
  } finally {
    p.close();
  }
  if (current !== undefined && current.end === -1 && current.body.length === 0) current.body = Buffer.concat(bodyParts);
  return { messages, error, pending: error === undefined && inMessage };
}
