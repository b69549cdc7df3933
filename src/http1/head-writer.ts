/**
 * Heads and chunk framing as Baton writes them, as latin1 strings: a request head for the
 * upstream, a response head for the client. Pure: the connection-level fields (Date,
 * keep-alive) are the caller's, passed in `extra`. Framing fields come only from the framing
 * Baton itself read (`BodyFraming`), never from a header the client sent: the caller drops
 * Content-Length and Transfer-Encoding from `headers` (issue 17: a Connection-named
 * Content-Length smuggled a request), and the writer throws if it did not. Every name must be a
 * token and every value field-value bytes, or the writer throws: a CR or LF in a header written
 * upstream would split the request.
 */

import { isFieldValue, isToken, isVisible, tokenEqualLower } from './tokens.js';
import type { BodyFraming } from './types.js';

export const CRLF = '\r\n';
/** The last chunk of a chunked body with no trailers. */
export const LAST_CHUNK = '0\r\n\r\n';

/** A method, target, name, value or reason the writer refuses to put on the wire. */
export class InvalidFieldError extends Error {
  override readonly name = 'InvalidFieldError';
  readonly code = 'HTTP1_INVALID_FIELD';
  /** The offending name (and, for a bad value, only the name: values may be secret). */
  readonly field: string;

  constructor(message: string, field: string) {
    super(message);
    this.field = field;
  }
}

/**
 * The framing field lines for `body`, each ending in CRLF: `Content-Length: N`,
 * `Transfer-Encoding: <codings>, chunked` or `Transfer-Encoding: <codings>` (close-delimited
 * responses), or '' for none.
 */
export function framingLines(body: BodyFraming): string {
  switch (body.kind) {
    case 'none':
      return '';
    case 'length':
      return `Content-Length: ${body.length}\r\n`;
    case 'chunked':
      return body.codings.length === 0 ? 'Transfer-Encoding: chunked\r\n' : `Transfer-Encoding: ${body.codings.join(', ')}, chunked\r\n`;
    case 'close':
      return body.codings.length === 0 ? '' : `Transfer-Encoding: ${body.codings.join(', ')}\r\n`;
  }
}

/**
 * A request head for the upstream: `METHOD SP path SP HTTP/1.1`, the fields, the framing of
 * `body`, CRLF. `headers` is a flat `[name, value, ...]` list. A close-delimited body is not a
 * request's: `body.kind` 'close' throws.
 */
export function requestHead(method: string, path: string, headers: readonly string[], body: BodyFraming): string {
  if (body.kind === 'close') throw new TypeError('a request body cannot be delimited by closing the connection');
  if (!isToken(method)) throw new InvalidFieldError('invalid method', method);
  if (!isVisible(path)) throw new InvalidFieldError('invalid request target', 'path');
  return `${method} ${path} HTTP/1.1\r\n${fieldLines(headers)}${framingLines(body)}\r\n`;
}

/**
 * A response head for the client: `HTTP/1.<minor> SP status SP reason`, the fields, `extra`
 * (field lines already written, each ending in CRLF: the caller's Date, Connection and framing,
 * see {@link framingLines}), CRLF.
 */
export function responseHead(minor: 0 | 1, status: number, reason: string, headers: readonly string[], extra: string): string {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new InvalidFieldError('invalid status code', String(status));
  if (!isFieldValue(reason)) throw new InvalidFieldError('invalid reason phrase', 'reason');
  return `HTTP/1.${minor} ${status} ${reason}\r\n${fieldLines(headers)}${extra}\r\n`;
}

/**
 * `name: value` CRLF for each pair of a flat list, checked; Content-Length and Transfer-Encoding
 * are refused (framing is written from a BodyFraming, see {@link framingLines}).
 */
export function fieldLines(headers: readonly string[]): string {
  if ((headers.length & 1) !== 0) throw new TypeError('a header list has an even number of entries');
  let out = '';
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (!isToken(name)) throw new InvalidFieldError('invalid header name', name);
    if (isFramingName(name)) throw new InvalidFieldError('a framing field among the headers: framing is written from what Baton read', name);
    if (!isFieldValue(value)) throw new InvalidFieldError('invalid header value', name);
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

function isFramingName(name: string): boolean {
  return name.length === 14 ? tokenEqualLower(name, 'content-length') : name.length === 17 && tokenEqualLower(name, 'transfer-encoding');
}

/** The line that opens a chunk of `size` bytes (size > 0): hex size, CRLF. Its data ends with {@link CRLF}. */
export function chunkPrefix(size: number): string {
  return `${size.toString(16)}\r\n`;
}

/** The last chunk, then `trailers` (a flat list, checked) and the final CRLF. */
export function lastChunk(trailers: readonly string[] = []): string {
  return trailers.length === 0 ? LAST_CHUNK : `0\r\n${fieldLines(trailers)}\r\n`;
}
