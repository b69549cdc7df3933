/**
 * The field lines of a head or a trailer section (RFC 9112 5): `field-name ":" OWS field-value
 * OWS CRLF`, repeated, then CRLF. A resumable scanner over "the bytes of the section so far": it
 * looks at each byte once however the bytes trickle in, hands back every field as soon as its
 * line ends (so the caller can refuse a bad framing field before the head is over), and stops at
 * the first byte that makes the section malformed: a bare LF, a CR not followed by LF, obs-fold,
 * whitespace before the colon, an empty name, a CTL in a value.
 */

import { FIELD, TCHAR } from './tokens.js';

/** {@link FieldLines.next}: no complete line in the bytes given; give it more (the same bytes and then some). */
export const MORE = 0;
/** {@link FieldLines.next}: one more field; its offsets are the last four of {@link FieldLines.spans}. */
export const FIELD_LINE = 1;
/** {@link FieldLines.next}: the blank line that ends the section; {@link FieldLines.end} is just past it. */
export const END = 2;

// Malformed: negative, so `code < 0` tells them apart; fieldError(code) says why.
export const BARE_LF = -1;
export const CR_WITHOUT_LF = -2;
export const OBS_FOLD = -3;
export const EMPTY_NAME = -4;
export const BAD_NAME = -5;
export const BAD_VALUE = -6;
export const TOO_LARGE = -7;

/** Why a section is malformed, by the negative code {@link FieldLines.next} returned. */
export function fieldError(code: number): string {
  switch (code) {
    case BARE_LF:
      return 'bare LF';
    case CR_WITHOUT_LF:
      return 'CR not followed by LF';
    case OBS_FOLD:
      return 'obs-fold (a line starting with whitespace)';
    case EMPTY_NAME:
      return 'empty field name';
    case BAD_NAME:
      return 'invalid byte in a field name (whitespace before the colon, CTL, non-token)';
    case BAD_VALUE:
      return 'invalid byte in a field value (NUL, CTL, DEL)';
    case TOO_LARGE:
      return 'head too large';
    default:
      return 'malformed field line';
  }
}

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;

// Where in a line the scanner stands.
const LINE_START = 0;
const NAME = 1;
const OWS_BEFORE = 2;
const VALUE = 3;
const LINE_LF = 4;
const BLANK_LF = 5;

/** The scanner of one section's field lines; `reset` it at the offset where the section starts. */
export class FieldLines {
  /**
   * `[nameStart, nameEnd, valueStart, valueEnd]` of each complete field, as offsets into the
   * bytes scanned; values without surrounding OWS. Reused from section to section: only the
   * first `4 * count` entries are this section's.
   */
  readonly spans: number[] = [];
  /** Fields complete so far. */
  count = 0;
  /** Offset just past the blank line, once {@link next} returned END; else -1. */
  end = -1;
  /** Offset of the CR that ended the last complete field line. */
  lineEnd = -1;
  #i = 0;
  #phase = LINE_START;
  #start = 0;
  #nameEnd = 0;
  #valueStart = 0;
  #valueEnd = 0;

  /** Starts a new section at offset `start` of the bytes to come. */
  reset(start: number): void {
    this.count = 0;
    this.end = -1;
    this.lineEnd = -1;
    this.#i = start;
    this.#phase = LINE_START;
  }

  /**
   * Scans on from where the last call stopped. `buf` holds the section from the offset given to
   * {@link reset}, as far as it has arrived; bytes at and past `limit` are never looked at, and a
   * section that has not ended by then is TOO_LARGE. Returns MORE, FIELD_LINE, END or a negative
   * code (see {@link fieldError}).
   */
  next(buf: Uint8Array, limit: number): number {
    const n = buf.length < limit ? buf.length : limit;
    if (this.#phase !== LINE_START) return this.#resume(buf, n, limit);
    // The common case, a whole line in the bytes: one straight pass over it.
    let i = this.#i;
    if (i + 1 >= n) return this.#resume(buf, n, limit);
    let c = buf[i]!;
    if (TCHAR[c] !== 1) {
      if (c !== CR) return c === LF ? BARE_LF : c === 0x20 || c === 0x09 ? OBS_FOLD : c === COLON ? EMPTY_NAME : BAD_NAME;
      if (buf[i + 1] !== LF) return CR_WITHOUT_LF;
      this.end = this.#i = i + 2;
      return END;
    }
    const ns = i;
    do i++;
    while (i < n && TCHAR[(c = buf[i]!)] === 1);
    if (i < n) {
      if (c !== COLON) return c === LF ? BARE_LF : BAD_NAME;
      const ne = i++;
      while (i < n && ((c = buf[i]!) === 0x20 || c === 0x09)) i++;
      const vs = i;
      while (i < n && FIELD[(c = buf[i]!)] === 1) i++;
      if (i + 1 < n) {
        if (c !== CR) return c === LF ? BARE_LF : BAD_VALUE;
        if (buf[i + 1] !== LF) return CR_WITHOUT_LF;
        this.#field(buf, ns, ne, vs, i);
        this.#i = i + 2;
        return FIELD_LINE;
      }
      if (i < n && c !== CR) return c === LF ? BARE_LF : BAD_VALUE;
    }
    // The line goes on past the bytes so far: scan it again, resumably (once per line).
    return this.#resume(buf, n, limit);
  }

  /** Records a field: the value ends at the CR at `cr`, less trailing OWS. */
  #field(buf: Uint8Array, ns: number, ne: number, vs: number, cr: number): void {
    let ve = cr;
    let c = 0;
    while (ve > vs && ((c = buf[ve - 1]!) === 0x20 || c === 0x09)) ve--;
    const spans = this.spans;
    const k = this.count << 2;
    spans[k] = ns;
    spans[k + 1] = ne;
    spans[k + 2] = vs;
    spans[k + 3] = ve;
    this.count++;
    this.lineEnd = cr;
  }

  /** The byte-at-a-time scan of a line that may stop anywhere and pick up where it stopped. */
  #resume(buf: Uint8Array, n: number, limit: number): number {
    let i = this.#i;
    let phase = this.#phase;
    let c = 0;
    for (;;) {
      if (i >= n) {
        this.#i = i;
        this.#phase = phase;
        return n === limit ? TOO_LARGE : MORE;
      }
      switch (phase) {
        case LINE_START:
          c = buf[i]!;
          if (TCHAR[c] === 1) {
            this.#start = i++;
            phase = NAME;
          } else if (c === CR) {
            i++;
            phase = BLANK_LF;
          } else return c === LF ? BARE_LF : c === 0x20 || c === 0x09 ? OBS_FOLD : c === COLON ? EMPTY_NAME : BAD_NAME;
          break;
        case NAME:
          while (i < n && TCHAR[(c = buf[i]!)] === 1) i++;
          if (i === n) break;
          if (c !== COLON) return c === LF ? BARE_LF : BAD_NAME;
          this.#nameEnd = i++;
          phase = OWS_BEFORE;
          break;
        case OWS_BEFORE:
          while (i < n && ((c = buf[i]!) === 0x20 || c === 0x09)) i++;
          if (i === n) break;
          this.#valueStart = i;
          phase = VALUE;
          break;
        case VALUE:
          while (i < n && FIELD[(c = buf[i]!)] === 1) i++;
          if (i === n) break;
          if (c !== CR) return c === LF ? BARE_LF : BAD_VALUE;
          this.#valueEnd = i++;
          phase = LINE_LF;
          break;
        case LINE_LF:
          if (buf[i] !== LF) return CR_WITHOUT_LF;
          this.#field(buf, this.#start, this.#nameEnd, this.#valueStart, this.#valueEnd);
          this.#i = i + 1;
          this.#phase = LINE_START;
          return FIELD_LINE;
        case BLANK_LF:
          if (buf[i] !== LF) return CR_WITHOUT_LF;
          this.end = this.#i = i + 1;
          this.#phase = LINE_START;
          return END;
      }
    }
  }
}
