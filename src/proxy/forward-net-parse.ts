/**
 * The minimal HTTP/1.1 response parsing the net forwarder needs: the status line and header
 * fields of a response head, how its body is framed (RFC 9112 6.3), and a chunked-body decoder.
 * Pure: bytes in, values out. Anything it does not understand is an error, which the forwarder
 * answers with 502 and a closed upstream connection (never a guess about framing).
 */

/** How the body of a response ends. */
export type Framing =
  /** No body: HEAD, 1xx, 204, 304. */
  | 'none'
  /** Content-Length bytes. */
  | 'length'
  /** Transfer-Encoding: chunked. */
  | 'chunked'
  /** Until the upstream closes the connection (no length, or a non-chunked transfer coding). */
  | 'close';

export interface ResponseHead {
  statusCode: number;
  /** The reason phrase; '' when the upstream sent none. */
  statusMessage: string;
  /** [name, value, ...] as received (case kept), header lines in order. */
  rawHeaders: string[];
  framing: Framing;
  /** Body length when framing is 'length'. */
  contentLength: number;
  /** Whether the connection may carry another request once this response is read. */
  keepAlive: boolean;
  /** The first Content-Type value, if any (SSE detection). */
  contentType: string | undefined;
}

export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
  readonly code = 'UPSTREAM_BAD_RESPONSE';
}

/** A response head larger than this is refused (node:http's default limit is 16 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;

/**
 * A response head gathered across reads. `pending` is what earlier reads left; `chunk` may lie
 * in a reused read buffer. Returns the bytes so far and the offset just past the head in them;
 * with `end` -1 the head has not ended, and `buf` is a copy that may be kept for the next read.
 * Throws when the head outgrows MAX_HEAD_BYTES (`what` names it in the error).
 */
export function gatherHead(pending: Buffer | undefined, chunk: Buffer, what: string): { buf: Buffer; end: number } {
  const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
  const end = headEnd(buf, pending === undefined ? 0 : pending.length);
  if (end !== -1) return { buf, end };
  if (buf.length > MAX_HEAD_BYTES) throw new ResponseParseError(`${what} too large`);
  // concat made a copy already; a lone chunk is the reader's buffer.
  return { buf: pending === undefined ? Buffer.from(buf) : buf, end };
}

/** Byte offset just past the blank line that ends a head (CRLF CRLF), or -1. `from` resumes a search. */
export function headEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf('\r\n\r\n', from > 3 ? from - 3 : 0, 'latin1');
  return i === -1 ? -1 : i + 4;
}

/**
 * Parse a response head (`text` is the head in latin1, up to but excluding the final CRLF CRLF).
 * `method` is the request's: a HEAD request's answer has no body whatever it says.
 *
 * Header names and values are not validated here: `res.writeHead` validates every one of them
 * (node:http's token and field-value rules) and the forwarder answers 502 when it refuses one.
 * Only the fields that decide framing are read, and those strictly.
 */
export function parseHead(text: string, method: string): ResponseHead {
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  // "HTTP/1.x SSS[ reason]"
  if (eol < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 0x20 || (eol > 12 && text.charCodeAt(12) !== 0x20)) {
    throw new ResponseParseError(`malformed status line ${JSON.stringify(text.slice(0, Math.min(eol, 60)))}`);
  }
  const minor = text.charCodeAt(7);
  const d0 = text.charCodeAt(9) - 0x30;
  const d1 = text.charCodeAt(10) - 0x30;
  const d2 = text.charCodeAt(11) - 0x30;
  if ((minor !== 0x30 && minor !== 0x31) || d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) {
    throw new ResponseParseError(`malformed status line ${JSON.stringify(text.slice(0, Math.min(eol, 60)))}`);
  }
  const http10 = minor === 0x30;
  const statusCode = d0 * 100 + d1 * 10 + d2;
  const statusMessage = eol > 13 ? text.slice(13, eol) : '';
  const rawHeaders: string[] = [];
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let connection: string | undefined;
  let contentType: string | undefined;
  let pos = eol + 2;
  const len = text.length;
  while (pos < len) {
    let next = text.indexOf('\r\n', pos);
    if (next === -1) next = len;
    const c0 = text.charCodeAt(pos);
    if (c0 === 0x20 || c0 === 0x09) {
      // obs-fold (RFC 9112 5.2): a proxy replaces it with a space.
      if (rawHeaders.length === 0) throw new ResponseParseError('header continuation before any header');
      rawHeaders[rawHeaders.length - 1] += ' ' + text.slice(pos, next).trim();
      pos = next + 2;
      continue;
    }
    const colon = text.indexOf(':', pos);
    if (colon === -1 || colon >= next || colon === pos) throw new ResponseParseError('malformed header line');
    let vs = colon + 1;
    let ve = next;
    while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
    const name = text.slice(pos, colon);
    const value = text.slice(vs, ve);
    pos = next + 2;
    rawHeaders.push(name, value);
    // Only the few fields that decide framing are looked at; length checks first, so most names
    // are never lower-cased.
    switch (name.length) {
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (!/^\d{1,15}$/.test(value)) throw new ResponseParseError('invalid Content-Length');
          const n = Number(value);
          if (contentLength !== -1 && contentLength !== n) throw new ResponseParseError('conflicting Content-Length values');
          contentLength = n;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 12:
        if (contentType === undefined && name.toLowerCase() === 'content-type') contentType = value;
        break;
    }
  }
  let keepAlive = !http10;
  if (connection !== undefined) {
    const tokens = connection.toLowerCase();
    if (/(?:^|[\s,])close(?:$|[\s,])/.test(tokens)) keepAlive = false;
    else if (http10 && /(?:^|[\s,])keep-alive(?:$|[\s,])/.test(tokens)) keepAlive = true;
  }
  let framing: Framing;
  if (method === 'HEAD' || statusCode < 200 || statusCode === 204 || statusCode === 304) framing = 'none';
  else if (transferEncoding !== undefined) {
    // Both framings at once is a smuggling vector: refuse it, as node:http does.
    if (contentLength !== -1) throw new ResponseParseError('both Transfer-Encoding and Content-Length');
    if (/(?:^|,)\s*chunked\s*$/i.test(transferEncoding)) framing = 'chunked';
    else {
      framing = 'close';
      keepAlive = false;
    }
  } else if (contentLength !== -1) framing = 'length';
  else {
    framing = 'close';
    keepAlive = false;
  }
  return { statusCode, statusMessage, rawHeaders, framing, contentLength: contentLength === -1 ? 0 : contentLength, keepAlive, contentType };
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

type ChunkState = 'size' | 'ext' | 'size_lf' | 'data' | 'data_cr' | 'data_lf' | 'trailer_start' | 'trailer_line' | 'trailer_lf' | 'end_lf' | 'done';

const MAX_SIZE_DIGITS = 12; // 2^48 - 1 bytes per chunk is plenty
const MAX_TRAILER_BYTES = 16 * 1024;

/**
 * Decodes a chunked body incrementally. `feed` hands each run of body bytes to `onData` (as
 * views into `buf`, no copies) and returns the offset just past the end of the message once the
 * last chunk and trailers are through, else -1. Trailers are read and dropped.
 */
export class ChunkedDecoder {
  #state: ChunkState = 'size';
  #size = 0;
  #digits = 0;
  #trailerBytes = 0;

  get done(): boolean {
    return this.#state === 'done';
  }

  feed<T>(buf: Buffer, start: number, onData: (target: T, data: Buffer) => void, target: T): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.#state) {
        case 'data': {
          const take = Math.min(this.#size, n - i);
          onData(target, buf.subarray(i, i + take));
          i += take;
          this.#size -= take;
          if (this.#size === 0) this.#state = 'data_cr';
          break;
        }
        case 'size': {
          const c = buf[i]!;
          const v = hexValue(c);
          if (v !== -1) {
            if (++this.#digits > MAX_SIZE_DIGITS) throw new ResponseParseError('chunk size too large');
            this.#size = this.#size * 16 + v;
          } else if (this.#digits === 0) throw new ResponseParseError('malformed chunk size');
          else if (c === 0x0d) this.#state = 'size_lf';
          else if (c === 0x3b || c === 0x20 || c === 0x09) this.#state = 'ext';
          else throw new ResponseParseError('malformed chunk size');
          i++;
          break;
        }
        case 'ext': {
          // Chunk extensions are ignored (RFC 9112 7.1.1).
          const c = buf[i++]!;
          if (c === 0x0d) this.#state = 'size_lf';
          else if (c === 0x0a) throw new ResponseParseError('bare LF in chunk extension');
          else if (++this.#trailerBytes > MAX_TRAILER_BYTES) throw new ResponseParseError('chunk extension too long');
          break;
        }
        case 'size_lf':
          if (buf[i++] !== 0x0a) throw new ResponseParseError('malformed chunk size line');
          this.#digits = 0;
          this.#state = this.#size === 0 ? 'trailer_start' : 'data';
          break;
        case 'data_cr':
          if (buf[i++] !== 0x0d) throw new ResponseParseError('chunk data overruns its size');
          this.#state = 'data_lf';
          break;
        case 'data_lf':
          if (buf[i++] !== 0x0a) throw new ResponseParseError('chunk data overruns its size');
          this.#state = 'size';
          break;
        case 'trailer_start': {
          const c = buf[i++]!;
          if (c === 0x0d) this.#state = 'end_lf';
          else this.#state = c === 0x0a ? failLf() : 'trailer_line';
          break;
        }
        case 'trailer_line': {
          const c = buf[i++]!;
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) throw new ResponseParseError('trailers too long');
          if (c === 0x0d) this.#state = 'trailer_lf';
          break;
        }
        case 'trailer_lf':
          if (buf[i++] !== 0x0a) throw new ResponseParseError('malformed trailer line');
          this.#state = 'trailer_start';
          break;
        case 'end_lf':
          if (buf[i++] !== 0x0a) throw new ResponseParseError('malformed end of chunked body');
          this.#state = 'done';
          return i;
        case 'done':
          return i;
      }
    }
    return -1;
  }
}

function failLf(): never {
  throw new ResponseParseError('bare LF in trailers');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
