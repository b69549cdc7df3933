/**
 * The chunked transfer coding (RFC 9112 7.1), decoded as bytes arrive, for request bodies and
 * response bodies alike. As strict as llhttp and a little stricter: a chunk-size line is
 * `1*HEXDIG *( ";" token [ "=" ( token / quoted-string ) ] ) CRLF` with no whitespace anywhere
 * (llhttp tolerates none either) and, unlike llhttp, no empty extension names or values; chunk
 * data must be followed by CRLF; trailer lines are field lines (field-lines.ts) and may not be
 * Content-Length, Transfer-Encoding, Connection, Proxy-Connection or Upgrade. They are kept, so a
 * proxy can pass them on.
 */

import { BARE_LF, CR_WITHOUT_LF, END, FIELD_LINE, FieldLines, MORE, TOO_LARGE } from './field-lines.js';
import { ParseError, type ParseErrorCode } from './parse-error.js';
import { FIELD, HEX, QDTEXT, TCHAR, bytesEqualLower } from './tokens.js';

/** How much a chunked body may carry besides its data. */
export interface ChunkedLimits {
  /** Bytes of the trailer section at most, its final CRLF included. */
  readonly maxTrailerBytes: number;
  /** Trailer fields at most. */
  readonly maxTrailers: number;
  /** Bytes of one chunk-size line (size and extensions) at most, CRLF excluded. */
  readonly maxSizeLineBytes: number;
}

/** 16 KiB and 100 fields of trailers, 4 KiB chunk-size lines. */
export const DEFAULT_CHUNKED_LIMITS: ChunkedLimits = Object.freeze({ maxTrailerBytes: 16 * 1024, maxTrailers: 100, maxSizeLineBytes: 4096 });

const CR = 0x0d;
const LF = 0x0a;
const SEMI = 0x3b;
const EQ = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

// States.
const SIZE_START = 0;
const SIZE = 1;
const EXT_NAME_START = 2;
const EXT_NAME = 3;
const EXT_VALUE_START = 4;
const EXT_VALUE = 5;
const EXT_QUOTED = 6;
const EXT_QUOTED_PAIR = 7;
const EXT_QUOTED_DONE = 8;
const SIZE_LF = 9;
const DATA = 10;
const DATA_CR = 11;
const DATA_LF = 12;
const TRAILERS = 13;
const DONE = 14;
const FAILED = 15;

/**
 * The fields llhttp reads for framing and the connection wherever they appear: as trailers they
 * are refused (RFC 9110 6.5.1), not least because llhttp acts on a trailer `Connection: close`.
 */
function isControlField(buf: Buffer, ns: number, ne: number): boolean {
  switch (ne - ns) {
    case 7:
      return bytesEqualLower(buf, ns, ne, 'upgrade');
    case 10:
      return bytesEqualLower(buf, ns, ne, 'connection');
    case 14:
      return bytesEqualLower(buf, ns, ne, 'content-length');
    case 16:
      return bytesEqualLower(buf, ns, ne, 'proxy-connection');
    case 17:
      return bytesEqualLower(buf, ns, ne, 'transfer-encoding');
    default:
      return false;
  }
}

const EMPTY = Buffer.alloc(0);
const NO_TRAILERS: readonly string[] = Object.freeze([]);

/**
 * One chunked body, fed in pieces as they arrive: `feed` until it returns the offset of the
 * message's end, then read `trailers`; `reset` for the next body. Keeps no bytes but the trailer
 * section's.
 */
export class ChunkedDecoder {
  readonly #limits: ChunkedLimits;
  #state = SIZE_START;
  #size = 0;
  #lineBytes = 0;
  /** Bytes fed before the current buffer, for error offsets. */
  #fed = 0;
  /** The trailer section so far: the first #trailerLength bytes of a buffer that doubles as it fills. */
  #trailerBytes: Buffer = EMPTY;
  #trailerLength = 0;
  #fields: FieldLines | undefined;
  #trailers: readonly string[] = NO_TRAILERS;
  #error: ParseError | undefined;

  constructor(limits: ChunkedLimits = DEFAULT_CHUNKED_LIMITS) {
    this.#limits = limits;
  }

  /** Whether the last chunk and the trailers are through. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** The trailer fields, `[name, value, ...]` as sent (values without surrounding OWS), once done. */
  get trailers(): readonly string[] {
    return this.#trailers;
  }

  /** Ready for a new body. */
  reset(): void {
    this.#state = SIZE_START;
    this.#size = 0;
    this.#lineBytes = 0;
    this.#fed = 0;
    this.#trailerBytes = EMPTY;
    this.#trailerLength = 0;
    this.#trailers = NO_TRAILERS;
    this.#error = undefined;
  }

  /**
   * Decodes `buf` from `start`. Each run of data bytes goes to `onData(target, view)` as a view
   * into `buf` (no copy; it is valid as long as `buf` is). Returns the offset in `buf` just past
   * the end of the message once the last chunk and trailers are through (bytes from there on
   * belong to the next message), else -1. Throws {@link ParseError} on malformed input, and
   * again on every later call.
   */
  feed<T>(buf: Buffer, start: number, onData: (target: T, data: Buffer) => void, target: T): number {
    const n = buf.length;
    const maxLine = this.#limits.maxSizeLineBytes;
    let i = start;
    let state = this.#state;
    if (state === DONE) return start;
    if (state === FAILED) throw this.#error!;
    let size = this.#size;
    let lineBytes = this.#lineBytes;
    let c = 0;
    while (i < n) {
      if (state === DATA) {
        const take = size < n - i ? size : n - i;
        onData(target, buf.subarray(i, i + take));
        i += take;
        size -= take;
        if (size !== 0) continue;
        // The CRLF after the data, most often right there.
        if (i + 1 < n && buf[i] === CR && buf[i + 1] === LF) {
          i += 2;
          state = SIZE_START;
        } else state = DATA_CR;
        continue;
      }
      if (state === SIZE_START || state === SIZE) {
        c = buf[i]!;
        if (state === SIZE_START && HEX[c] !== 1) this.#fail(c === LF ? 'HTTP1_LINE_ENDING' : 'HTTP1_CHUNK_SIZE', 'no chunk size', i, start);
        while (HEX[c] === 1) {
          size = size * 16 + (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
          if (size > Number.MAX_SAFE_INTEGER) this.#fail('HTTP1_CHUNK_SIZE_OVERFLOW', 'chunk size overflow', i, start);
          if (++lineBytes > maxLine) this.#fail('HTTP1_CHUNK_SIZE_OVERFLOW', 'chunk-size line too long', i, start);
          if (++i === n) {
            state = SIZE;
            break;
          }
          c = buf[i]!;
        }
        if (i === n) break;
        if (c === CR) state = SIZE_LF;
        else if (c === SEMI) state = EXT_NAME_START;
        else this.#fail(c === LF ? 'HTTP1_LINE_ENDING' : 'HTTP1_CHUNK_SIZE', 'invalid byte after the chunk size', i, start);
        lineBytes++;
        i++;
        continue;
      }
      if (state === TRAILERS) {
        this.#state = state;
        return this.#trailerSection(buf, i, start);
      }
      c = buf[i]!;
      if (state <= EXT_QUOTED_DONE && ++lineBytes > maxLine) this.#fail('HTTP1_CHUNK_SIZE_OVERFLOW', 'chunk-size line too long', i, start);
      switch (state) {
        case EXT_NAME_START:
          if (TCHAR[c] !== 1) this.#fail('HTTP1_CHUNK_EXTENSION', 'empty or invalid chunk extension name', i, start);
          state = EXT_NAME;
          break;
        case EXT_NAME:
        case EXT_VALUE:
          if (TCHAR[c] === 1) break;
          if (c === EQ && state === EXT_NAME) state = EXT_VALUE_START;
          else state = this.#afterExtension(c, i, start);
          break;
        case EXT_VALUE_START:
          if (c === DQUOTE) state = EXT_QUOTED;
          else if (TCHAR[c] === 1) state = EXT_VALUE;
          else this.#fail('HTTP1_CHUNK_EXTENSION', 'empty or invalid chunk extension value', i, start);
          break;
        case EXT_QUOTED:
          if (c === DQUOTE) state = EXT_QUOTED_DONE;
          else if (c === BACKSLASH) state = EXT_QUOTED_PAIR;
          else if (QDTEXT[c] !== 1) this.#fail('HTTP1_CHUNK_EXTENSION', 'invalid byte in a quoted chunk extension', i, start);
          break;
        case EXT_QUOTED_PAIR:
          if (FIELD[c] !== 1) this.#fail('HTTP1_CHUNK_EXTENSION', 'invalid quoted-pair in a chunk extension', i, start);
          state = EXT_QUOTED;
          break;
        case EXT_QUOTED_DONE:
          state = this.#afterExtension(c, i, start);
          break;
        case SIZE_LF:
          if (c !== LF) this.#fail('HTTP1_LINE_ENDING', 'CR not followed by LF after the chunk size', i, start);
          lineBytes = 0;
          state = size === 0 ? TRAILERS : DATA;
          break;
        case DATA_CR:
          if (c !== CR) this.#fail(c === LF ? 'HTTP1_LINE_ENDING' : 'HTTP1_CHUNK_DATA', 'chunk data not followed by CRLF', i, start);
          state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== LF) this.#fail('HTTP1_CHUNK_DATA', 'chunk data not followed by CRLF', i, start);
          state = SIZE_START;
          break;
      }
      i++;
    }
    this.#state = state;
    this.#size = size;
    this.#lineBytes = lineBytes;
    this.#fed += n - start;
    return -1;
  }

  /** What may follow an extension name or value: another extension or the end of the line. */
  #afterExtension(c: number, i: number, start: number): number {
    if (c === SEMI) return EXT_NAME_START;
    if (c === CR) return SIZE_LF;
    return this.#fail(c === LF ? 'HTTP1_LINE_ENDING' : 'HTTP1_CHUNK_EXTENSION', 'invalid byte in a chunk extension', i, start);
  }

  /** The trailer section from `buf[i]`: the offset past its end, or -1 when it goes on. */
  #trailerSection(buf: Buffer, i: number, start: number): number {
    const n = buf.length;
    const before = this.#trailerLength;
    // No trailers, the common case: no copy.
    if (before === 0 && i + 1 < n && buf[i] === CR && buf[i + 1] === LF) return this.#finish(i + 2, start, NO_TRAILERS);
    const max = this.#limits.maxTrailerBytes;
    if (before === 0) (this.#fields ??= new FieldLines()).reset(0);
    // Copy what may be trailers (one byte past the limit tells "too large"), into a buffer that
    // doubles as needed, so trailers trickling in are not copied over and over.
    const take = Math.min(n - i, max + 1 - before);
    if (before + take > this.#trailerBytes.length) {
      const grown = Buffer.allocUnsafe(Math.min(max + 1, Math.max(256, 2 * (before + take))));
      this.#trailerBytes.copy(grown, 0, 0, before);
      this.#trailerBytes = grown;
    }
    buf.copy(this.#trailerBytes, before, i, i + take);
    this.#trailerLength = before + take;
    const bytes = this.#trailerBytes.subarray(0, this.#trailerLength);
    const fields = this.#fields!;
    for (;;) {
      const code = fields.next(bytes, max);
      if (code === FIELD_LINE) {
        const k = (fields.count << 2) - 4;
        const ns = fields.spans[k]!;
        const ne = fields.spans[k + 1]!;
        if (isControlField(bytes, ns, ne)) this.#fail('HTTP1_TRAILER', 'a framing or connection field in the trailers', i, start);
        if (fields.count > this.#limits.maxTrailers) this.#fail('HTTP1_TRAILERS_TOO_LARGE', 'too many trailer fields', i, start);
        continue;
      }
      if (code === END) {
        const s = bytes.toString('latin1', 0, fields.end);
        const list: string[] = [];
        for (let k = 0; k < fields.count << 2; k += 4) {
          list.push(s.slice(fields.spans[k], fields.spans[k + 1]), s.slice(fields.spans[k + 2], fields.spans[k + 3]));
        }
        return this.#finish(i + (fields.end - before), start, list);
      }
      if (code === MORE) {
        this.#fed += n - start;
        return -1;
      }
      if (code === TOO_LARGE) this.#fail('HTTP1_TRAILERS_TOO_LARGE', 'trailers too large', i, start);
      const lineEnding = code === BARE_LF || code === CR_WITHOUT_LF;
      this.#fail(lineEnding ? 'HTTP1_LINE_ENDING' : 'HTTP1_TRAILER', 'malformed trailer line', i, start);
    }
  }

  #finish(end: number, start: number, trailers: readonly string[]): number {
    this.#state = DONE;
    this.#trailers = trailers;
    this.#trailerBytes = EMPTY;
    this.#trailerLength = 0;
    this.#fed += end - start;
    return end;
  }

  #fail(code: ParseErrorCode, message: string, i: number, start: number): never {
    this.#state = FAILED;
    this.#error = new ParseError(code, message, this.#fed + (i - start));
    throw this.#error;
  }
}
