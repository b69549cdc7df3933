/**
 * The request heads Baton serves itself, read from bytes as they arrive. Its answer is one of
 * four (types.ts): `incomplete`, a `head` in Baton's subset, `decline` (the connection goes to
 * node:http, whose llhttp serves or refuses it, so every refusal of malformed input stays
 * llhttp's) or `reject` (what llhttp would take but a proxy must not pass on).
 *
 * The subset: `METHOD SP request-target SP HTTP/1.1|HTTP/1.0 CRLF`, a served method
 * (methods.ts), a target in origin-form, absolute-form (http/https, no userinfo) or `*` for
 * OPTIONS (target.ts), field lines `token ":" OWS field-value OWS CRLF` (field-lines.ts), then
 * CRLF. Declined as soon as the byte that makes it so arrives: anything malformed, an unknown
 * method, leading blank lines, HTTP/1.1 without exactly one Host, a repeated or combined
 * Content-Length / Transfer-Encoding, a Transfer-Encoding that is not a token list ending in
 * chunked (or on HTTP/1.0), HTAB inside a framing or Connection value (llhttp versions read it
 * differently), Expect, Proxy-Connection, an upgrade with a body, the head limits. Rejected:
 * other protocols and versions llhttp knows (RTSP/ICE, HTTP/2.0, HTTP/0.9, PRI) with 505, and
 * CONNECT with 405.
 */

import { END, FIELD_LINE, FieldLines, MORE, fieldError } from './field-lines.js';
import { parseConnection, parseContentLength, parseTransferEncoding, type ConnectionInfo, type FramingError } from './framing-fields.js';
import { INCOMPLETE, RequestLine } from './request-line.js';
import { bytesEqualLower } from './tokens.js';
import type { BodyFraming, HeadLimits, RequestHead, RequestHeadResult } from './types.js';

const NO_BODY: BodyFraming = Object.freeze({ kind: 'none' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked', codings: Object.freeze([]) as readonly string[] });
const NO_TOKENS: readonly string[] = Object.freeze([]);

/**
 * Reads request heads one after another (one parser per connection): `parse` the bytes gathered
 * so far until the answer is not `incomplete`, then start the next head where `size` says.
 */
export class RequestHeadParser {
  readonly #limits: HeadLimits;
  readonly #line = new RequestLine();
  readonly #fields = new FieldLines();
  readonly #conn: ConnectionInfo = { tokens: undefined, close: false, keepAlive: false, upgrade: false };
  /** Field index of Host / Upgrade, -1 while none. */
  #host = -1;
  #upgrade = -1;
  #length = -1;
  #codings: string[] | undefined;

  constructor(limits: HeadLimits) {
    this.#limits = limits;
  }

  /** Forgets the head in progress; the next {@link parse} reads a new one from offset 0. */
  reset(): void {
    this.#line.reset();
    this.#host = -1;
    this.#upgrade = -1;
    this.#length = -1;
    this.#codings = undefined;
    this.#conn.tokens = undefined;
    this.#conn.close = this.#conn.keepAlive = this.#conn.upgrade = false;
  }

  /**
   * Reads on. `buf` holds the bytes of this head from its first byte, as far as they have
   * arrived: the same bytes as the last call and then some (it may be a new Buffer). Each byte is
   * looked at once across calls. Any answer but `incomplete` resets the parser.
   */
  parse(buf: Buffer): RequestHeadResult {
    const line = this.#line;
    let r: RequestHeadResult | undefined;
    if (!line.done) {
      r = line.scan(buf, this.#limits.maxHeadBytes);
      if (r === undefined) this.#fields.reset(line.end);
    }
    if (r === undefined) r = this.#fieldLines(buf);
    if (r !== INCOMPLETE) this.reset();
    return r;
  }

  #fieldLines(buf: Buffer): RequestHeadResult {
    const fields = this.#fields;
    const limit = this.#limits.maxHeadBytes;
    for (;;) {
      const code = fields.next(buf, limit);
      if (code === FIELD_LINE) {
        if (fields.count > this.#limits.maxHeaders) return decline('too many header fields');
        const why = this.#inspect(buf);
        if (why !== undefined) return decline(why);
      } else if (code === END) return this.#complete(buf, fields.end);
      else if (code === MORE) return INCOMPLETE;
      else return decline(fieldError(code));
    }
  }

  /** Looks at the field just read, if its name is one that frames or routes the request. */
  #inspect(buf: Buffer): string | undefined {
    const f = this.#fields;
    const k = (f.count << 2) - 4;
    const ns = f.spans[k]!;
    const ne = f.spans[k + 1]!;
    const vs = f.spans[k + 2]!;
    const ve = f.spans[k + 3]!;
    // Lengths first: most names are never compared.
    switch (ne - ns) {
      case 4:
        if (!bytesEqualLower(buf, ns, ne, 'host')) return undefined;
        if (this.#host !== -1) return 'two Host fields';
        if (ve === vs) return 'empty Host';
        this.#host = k >> 2;
        return undefined;
      case 6:
        return bytesEqualLower(buf, ns, ne, 'expect') ? 'Expect (node:http answers 100-continue)' : undefined;
      case 7:
        if (!bytesEqualLower(buf, ns, ne, 'upgrade')) return undefined;
        if (this.#upgrade !== -1) return 'two Upgrade fields';
        if (ve === vs) return 'empty Upgrade';
        this.#upgrade = k >> 2;
        return undefined;
      case 10: {
        if (!bytesEqualLower(buf, ns, ne, 'connection')) return undefined;
        const r = parseConnection(buf, vs, ve, f.lineEnd, this.#conn);
        return r === undefined ? undefined : framingWhy(r);
      }
      case 14: {
        if (!bytesEqualLower(buf, ns, ne, 'content-length')) return undefined;
        if (this.#length !== -1) return 'repeated Content-Length';
        if (this.#codings !== undefined) return 'Content-Length with Transfer-Encoding';
        const n = parseContentLength(buf, vs, ve, f.lineEnd);
        if (n < 0) return 'invalid Content-Length';
        this.#length = n;
        return undefined;
      }
      case 16:
        return bytesEqualLower(buf, ns, ne, 'proxy-connection') ? 'Proxy-Connection (llhttp reads it as Connection)' : undefined;
      case 17: {
        if (!bytesEqualLower(buf, ns, ne, 'transfer-encoding')) return undefined;
        if (this.#codings !== undefined) return 'repeated Transfer-Encoding';
        if (this.#length !== -1) return 'Content-Length with Transfer-Encoding';
        if (this.#line.minor === 0) return 'Transfer-Encoding on HTTP/1.0';
        const codings: string[] = [];
        const r = parseTransferEncoding(buf, vs, ve, f.lineEnd, codings);
        if (r !== 'chunked') return r === 'close' ? 'Transfer-Encoding not ending in chunked' : framingWhy(r);
        this.#codings = codings;
        return undefined;
      }
      default:
        return undefined;
    }
  }

  #complete(buf: Buffer, size: number): RequestHeadResult {
    if (this.#host === -1 && this.#line.minor === 1) return decline('HTTP/1.1 without Host');
    let body: BodyFraming = NO_BODY;
    if (this.#codings !== undefined) body = this.#codings.length === 0 ? CHUNKED : { kind: 'chunked', codings: this.#codings };
    else if (this.#length > 0) body = { kind: 'length', length: this.#length };
    const conn = this.#conn;
    const upgrades = conn.upgrade && this.#upgrade !== -1;
    if (upgrades && body !== NO_BODY) return decline('upgrade with a body');

    // One string for the whole head: slicing it is cheaper than a string per field from the Buffer.
    const s = buf.toString('latin1', 0, size);
    const spans = this.#fields.spans;
    const headers: string[] = [];
    for (let k = 0, e = this.#fields.count << 2; k < e; k += 4) headers.push(s.slice(spans[k], spans[k + 1]), s.slice(spans[k + 2], spans[k + 3]));
    const line = this.#line;
    const t = line.target;
    const target = s.slice(line.targetStart, line.targetEnd);
    let path = target;
    let authority = this.#host === -1 ? undefined : headers[2 * this.#host + 1];
    if (t.form === 'absolute') {
      authority = s.slice(t.authorityStart, t.authorityEnd);
      path = t.pathStart === line.targetEnd ? '/' : buf[t.pathStart] === 0x3f ? '/' + s.slice(t.pathStart, line.targetEnd) : s.slice(t.pathStart, line.targetEnd);
    }
    const head: RequestHead = {
      method: line.method!.name,
      target,
      form: t.form,
      path,
      authority,
      minor: line.minor,
      headers,
      body,
      keepAlive: line.minor === 1 ? !conn.close : conn.keepAlive && !conn.close,
      connection: conn.tokens ?? NO_TOKENS,
      upgrade: upgrades ? headers[2 * this.#upgrade + 1]!.toLowerCase() : undefined,
    };
    return { kind: 'head', head, size };
  }
}

function framingWhy(r: FramingError): string {
  switch (r) {
    case 'htab':
      return 'HTAB in a framing or Connection value';
    case 'not-token':
      return 'a Transfer-Encoding or Connection list element that is not a token';
    case 'chunked-not-last':
      return 'chunked not the last transfer coding';
    case 'empty':
      return 'empty Transfer-Encoding';
  }
}

function decline(reason: string): RequestHeadResult {
  return { kind: 'decline', reason };
}

