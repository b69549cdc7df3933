/**
 * The one fault the streaming parsers here throw: bytes that are not HTTP/1.x as this folder
 * reads it. Heads are answered with values (`decline`, `reject`, `invalid`); only the body
 * decoder, which is fed from inside a data callback, throws.
 */

/** What was wrong, as a stable code: match on it, never on the message. */
export type ParseErrorCode =
  /** A chunk-size line that is not `1*HEXDIG [ chunk-ext ] CRLF` (whitespace, junk, no digits). */
  | 'HTTP1_CHUNK_SIZE'
  /** A chunk size past 2^53 - 1, or a chunk-size line longer than the decoder allows. */
  | 'HTTP1_CHUNK_SIZE_OVERFLOW'
  /** A chunk extension that is not `;token[=token|quoted-string]` (empty name, NUL, CTL, whitespace). */
  | 'HTTP1_CHUNK_EXTENSION'
  /** Chunk data not followed by CRLF: the chunk is longer than its size says. */
  | 'HTTP1_CHUNK_DATA'
  /** A bare LF or a CR without LF where a line should end. */
  | 'HTTP1_LINE_ENDING'
  /** A trailer line that is not a valid field line, or a framing or connection field sent as a trailer. */
  | 'HTTP1_TRAILER'
  /** More trailer bytes or fields than the decoder allows. */
  | 'HTTP1_TRAILERS_TOO_LARGE';

/** Malformed body framing; `code` says which rule was broken. */
export class ParseError extends Error {
  override readonly name = 'ParseError';
  readonly code: ParseErrorCode;
  /** Bytes of the body fed before the offending one (counted across feeds). */
  readonly offset: number;

  constructor(code: ParseErrorCode, message: string, offset: number) {
    super(message);
    this.code = code;
    this.offset = offset;
  }
}
