/**
 * The request heads the lean path serves itself: a strict, common subset of HTTP/1.1. Anything
 * outside it is not an error here: the connection goes to node:http, whose parser (llhttp)
 * answers or refuses it. So this parser only ever has to say "mine" or "not mine", and says
 * "not mine" whenever in doubt.
 *
 * Mine: `METHOD SP /origin-form SP HTTP/1.1`, a known method, a visible-ASCII target, header
 * lines `token ":" OWS value OWS` with field-value characters only, each name once, a Host,
 * no body (no Transfer-Encoding; Content-Length absent or 0), no Upgrade, no Expect.
 */

export interface LeanHead {
  method: string;
  url: string;
  /** Lower-cased names; each appears once (a repeated name is not lean). */
  headers: Record<string, string>;
  /** [name, value, ...] as received (case kept). */
  rawHeaders: string[];
  /** False when the client asked for `Connection: close`. */
  keepAlive: boolean;
}

export interface LeanHeadLimits {
  /** Header fields at most (node:http answers 431 beyond it). */
  maxHeadersCount: number;
}

const METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'POST', 'PUT', 'PATCH']);

/**
 * Objects with no inherited properties that stay in V8's fast mode (Object.create(null) does
 * not): a header named "constructor" or "__proto__" is just a header.
 */
const HeaderRecord = function HeaderRecord() {} as unknown as new () => Record<string, string>;
HeaderRecord.prototype = Object.create(null) as object;

/** A request target in origin form: "/" then visible ASCII. */
const TARGET = /^\/[\x21-\x7e]*$/;
/** RFC 9110 token: a header field name. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 field-value characters (visible, SP, HTAB, obs-text); no CR, LF, NUL or other controls. */
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Parse a request head. `text` is the head in latin1, up to but excluding the CRLF CRLF that ends
 * it. Returns undefined when it is not a lean request.
 */
export function parseLeanHead(text: string, limits: LeanHeadLimits): LeanHead | undefined {
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  const sp1 = text.indexOf(' ');
  if (sp1 === -1 || sp1 > eol) return undefined;
  const sp2 = text.indexOf(' ', sp1 + 1);
  if (sp2 === -1 || sp2 > eol) return undefined;
  const method = text.slice(0, sp1);
  if (!METHODS.has(method)) return undefined;
  if (eol - sp2 !== 9 || !text.startsWith('HTTP/1.1', sp2 + 1)) return undefined;
  const url = text.slice(sp1 + 1, sp2);
  if (!TARGET.test(url)) return undefined;

  const headers = new HeaderRecord();
  const rawHeaders: string[] = [];
  let keepAlive = true;
  let pos = eol + 2;
  const len = text.length;
  while (pos < len) {
    if (rawHeaders.length >= limits.maxHeadersCount * 2) return undefined;
    let next = text.indexOf('\r\n', pos);
    if (next === -1) next = len;
    const colon = text.indexOf(':', pos);
    if (colon === -1 || colon >= next) return undefined;
    const name = text.slice(pos, colon);
    // Leading whitespace (obs-fold), whitespace before the colon, CTLs: all fail TOKEN.
    if (!TOKEN.test(name)) return undefined;
    let vs = colon + 1;
    let ve = next;
    while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
    const value = text.slice(vs, ve);
    // A bare CR or LF would sit inside a line here: FIELD_VALUE refuses both.
    if (!FIELD_VALUE.test(value)) return undefined;
    const key = name.toLowerCase();
    if (headers[key] !== undefined) return undefined;
    switch (key) {
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return undefined;
      case 'content-length':
        if (value !== '0') return undefined;
        break;
      case 'connection': {
        const tokens = value.toLowerCase();
        if (tokens.includes('upgrade')) return undefined;
        if (tokens === 'close') keepAlive = false;
        else if (tokens !== 'keep-alive' && tokens.includes('close')) return undefined;
        break;
      }
    }
    headers[key] = value;
    rawHeaders.push(name, value);
    pos = next + 2;
  }
  if (headers.host === undefined) return undefined;
  return { method, url, headers, rawHeaders, keepAlive };
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
