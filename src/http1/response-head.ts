/**
 * An upstream's response head, read strictly from bytes as they arrive: `invalid` for all that
 * llhttp (in response mode, as Node's http client runs it) refuses, and for more: any version
 * but HTTP/1.0 and 1.1, a reason phrase with CTLs, leading blank lines, obs-fold anywhere (llhttp
 * refuses it too), conflicting Content-Lengths (identical ones on two lines are read as one, where
 * llhttp refuses them: the answer reaches the client with one), Content-Length
 * with Transfer-Encoding, a Transfer-Encoding that is not a clean token list or applies chunked
 * before another coding, a head over the limits whether it arrives in one read or many. Each
 * refusal is said at the first byte that makes it so.
 *
 * Framing per RFC 9112 6.3: HEAD request, 1xx, 204, 304: none; Transfer-Encoding with chunked
 * last: chunked (the codings before it kept); Transfer-Encoding without chunked: close (codings
 * kept); Content-Length: length (0 included); else close. 1xx other than 101 are informational:
 * the caller skips them and reads the next head. 101 is returned like any head.
 */

import { END, FIELD_LINE, FieldLines, MORE, fieldError } from './field-lines.js';
import { parseConnection, parseContentLength, parseTransferEncoding, type ConnectionInfo } from './framing-fields.js';
import { FIELD, bytesEqualLower } from './tokens.js';
import type { BodyFraming, HeadLimits, ResponseHead, ResponseHeadResult } from './types.js';

const INCOMPLETE: ResponseHeadResult = Object.freeze({ kind: 'incomplete' });
const NO_BODY: BodyFraming = Object.freeze({ kind: 'none' });
const NO_CODINGS: readonly string[] = Object.freeze([]);
const CLOSE: BodyFraming = Object.freeze({ kind: 'close', codings: NO_CODINGS });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked', codings: NO_CODINGS });

const CR = 0x0d;
const LF = 0x0a;

// Where the status line scan stands.
const STATUS = 0;
const REASON = 1;
const STATUS_LF = 2;
const FIELDS = 3;

/** `HTTP/1.` then the minor version at offset 7, SP, three digits at 9-11. */
const PREFIX = 'HTTP/1.';

/**
 * Reads response heads one after another (one parser per upstream connection): `parse` the bytes
 * gathered so far until the answer is not `incomplete`.
 */
export class ResponseHeadParser {
  readonly #limits: HeadLimits;
  readonly #fields = new FieldLines();
  readonly #conn: ConnectionInfo = { tokens: undefined, close: false, keepAlive: false, upgrade: false };
  #step = STATUS;
  #i = 0;
  #reasonEnd = 0;
  #length = -1;
  #lengthText = '';
  /** Transfer-Encoding so far: undefined while none. */
  #te: 'chunked' | 'close' | undefined;
  #codings: string[] | undefined;
  #connHtab = false;
  #contentType = -1;

  constructor(limits: HeadLimits) {
    this.#limits = limits;
  }

  /** Forgets the head in progress; the next {@link parse} reads a new one from offset 0. */
  reset(): void {
    this.#step = STATUS;
    this.#i = 0;
    this.#length = -1;
    this.#te = undefined;
    this.#codings = undefined;
    this.#connHtab = false;
    this.#contentType = -1;
    this.#conn.tokens = undefined;
    this.#conn.close = this.#conn.keepAlive = this.#conn.upgrade = false;
  }

  /**
   * Reads on. `buf` holds the bytes of this head from its first byte, as far as they have
   * arrived (the same bytes as the last call and then some); `requestMethod` is the method of
   * the request it answers. Any answer but `incomplete` resets the parser.
   */
  parse(buf: Buffer, requestMethod: string): ResponseHeadResult {
    let r: ResponseHeadResult | undefined = this.#step === FIELDS ? undefined : this.#statusLine(buf);
    if (r === undefined) r = this.#fieldLines(buf, requestMethod);
    if (r !== INCOMPLETE) this.reset();
    return r;
  }

  #statusLine(buf: Buffer): ResponseHeadResult | undefined {
    const limit = this.#limits.maxHeadBytes;
    const n = Math.min(buf.length, limit);
    let i = this.#i;
    for (; i < n; i++) {
      const c = buf[i]!;
      if (this.#step === STATUS) {
        if (i < 7) {
          if (c !== PREFIX.charCodeAt(i)) return invalid('not an HTTP/1.x status line');
        } else if (i === 7) {
          if (c !== 0x30 && c !== 0x31) return invalid('not HTTP/1.0 or HTTP/1.1');
        } else if (i === 8) {
          if (c !== 0x20) return invalid('malformed status line');
        } else if (i < 12) {
          if (c < (i === 9 ? 0x31 : 0x30) || c > 0x39) return invalid('malformed status code');
        } else if (c === 0x20) this.#step = REASON;
        else if (c === CR) {
          this.#reasonEnd = i;
          this.#step = STATUS_LF;
        } else return invalid(c === LF ? 'bare LF' : 'malformed status line');
      } else if (this.#step === REASON) {
        while (i < n && FIELD[buf[i]!] === 1) i++;
        if (i === n) break;
        if (buf[i] !== CR) return invalid(buf[i] === LF ? 'bare LF' : 'invalid byte in the reason phrase');
        this.#reasonEnd = i;
        this.#step = STATUS_LF;
      } else {
        if (c !== LF) return invalid('CR not followed by LF');
        this.#step = FIELDS;
        this.#fields.reset(i + 1);
        return undefined;
      }
    }
    this.#i = i;
    return n === limit ? invalid('head too large') : INCOMPLETE;
  }

  #fieldLines(buf: Buffer, method: string): ResponseHeadResult {
    const fields = this.#fields;
    for (;;) {
      const code = fields.next(buf, this.#limits.maxHeadBytes);
      if (code === FIELD_LINE) {
        if (fields.count > this.#limits.maxHeaders) return invalid('too many header fields');
        const why = this.#inspect(buf);
        if (why !== undefined) return invalid(why);
      } else if (code === END) return this.#complete(buf, fields.end, method);
      else if (code === MORE) return INCOMPLETE;
      else return invalid(fieldError(code));
    }
  }

  /** Looks at the field just read, if its name is one that frames the response or its connection. */
  #inspect(buf: Buffer): string | undefined {
    const f = this.#fields;
    const k = (f.count << 2) - 4;
    const ns = f.spans[k]!;
    const ne = f.spans[k + 1]!;
    const vs = f.spans[k + 2]!;
    const ve = f.spans[k + 3]!;
    switch (ne - ns) {
      case 10:
      case 16: {
        if (!bytesEqualLower(buf, ns, ne, 'connection') && !bytesEqualLower(buf, ns, ne, 'proxy-connection')) return undefined;
        // llhttp reads Proxy-Connection as Connection: so does this, for keep-alive.
        const r = parseConnection(buf, vs, ve, f.lineEnd, this.#conn);
        if (r === 'htab') this.#connHtab = true;
        else if (r !== undefined) return 'a Connection element that is not a token';
        return undefined;
      }
      case 12:
        if (this.#contentType === -1 && bytesEqualLower(buf, ns, ne, 'content-type')) this.#contentType = k >> 2;
        return undefined;
      case 14: {
        if (!bytesEqualLower(buf, ns, ne, 'content-length')) return undefined;
        if (this.#te !== undefined) return 'Content-Length with Transfer-Encoding';
        const n = parseContentLength(buf, vs, ve, f.lineEnd);
        if (n < 0) return 'invalid Content-Length';
        // The one leniency over llhttp: the same length on two lines is one length (RFC 9110
        // 8.6 allows it), and the client gets it once (issue 17: forwarded twice, clients refused it).
        const text = buf.toString('latin1', vs, ve);
        if (this.#length !== -1 && this.#lengthText !== text) return 'conflicting Content-Lengths';
        this.#length = n;
        this.#lengthText = text;
        return undefined;
      }
      case 17: {
        if (!bytesEqualLower(buf, ns, ne, 'transfer-encoding')) return undefined;
        if (this.#length !== -1) return 'Content-Length with Transfer-Encoding';
        if (this.#te === 'chunked') return 'chunked not the last transfer coding';
        const r = parseTransferEncoding(buf, vs, ve, f.lineEnd, (this.#codings ??= []));
        if (r !== 'chunked' && r !== 'close') return `invalid Transfer-Encoding (${r})`;
        this.#te = r;
        return undefined;
      }
      default:
        return undefined;
    }
  }

  #complete(buf: Buffer, size: number, method: string): ResponseHeadResult {
    const s = buf.toString('latin1', 0, size);
    const status = (buf[9]! - 0x30) * 100 + (buf[10]! - 0x30) * 10 + (buf[11]! - 0x30);
    const minor = buf[7] === 0x31 ? 1 : 0;
    const spans = this.#fields.spans;
    const headers: string[] = [];
    for (let k = 0, e = this.#fields.count << 2; k < e; k += 4) headers.push(s.slice(spans[k], spans[k + 1]), s.slice(spans[k + 2], spans[k + 3]));

    let body: BodyFraming;
    if (method === 'HEAD' || status < 200 || status === 204 || status === 304) body = NO_BODY;
    else if (this.#te === 'chunked') body = this.#codings!.length === 0 ? CHUNKED : { kind: 'chunked', codings: this.#codings! };
    else if (this.#te === 'close') body = { kind: 'close', codings: this.#codings! };
    else if (this.#length !== -1) body = { kind: 'length', length: this.#length };
    else body = CLOSE;
    const conn = this.#conn;
    // A HEAD answer with neither length nor chunked would have been close-delimited: llhttp, as
    // Node's client runs it, closes after it, and so does Baton (an upstream that sent a body
    // anyway would poison the next request).
    const delimited = this.#te === 'chunked' || this.#length !== -1 || (status < 200 && status !== 101) || status === 204 || status === 304;
    const keepAlive =
      body.kind !== 'close' && delimited && status !== 101 && !this.#connHtab && !conn.close && (minor === 1 || conn.keepAlive);
    // llhttp refuses what follows an informational response that closes the connection: so
    // does Baton, by refusing the informational response itself.
    if (status < 200 && status !== 101 && !keepAlive) return invalid('informational response closing the connection');
    const head: ResponseHead = {
      minor,
      status,
      reason: this.#reasonEnd > 13 ? s.slice(13, this.#reasonEnd) : '',
      headers,
      body,
      keepAlive,
      connection: conn.tokens ?? NO_CODINGS,
      contentType: this.#contentType === -1 ? undefined : headers[2 * this.#contentType + 1],
    };
    return { kind: 'head', head, size };
  }
}

/** Reads a response head from `buf` in one go (a fresh {@link ResponseHeadParser}). */
export function parseResponseHead(buf: Buffer, requestMethod: string, limits: HeadLimits): ResponseHeadResult {
  return new ResponseHeadParser(limits).parse(buf, requestMethod);
}

function invalid(reason: string): ResponseHeadResult {
  return { kind: 'invalid', reason };
}
