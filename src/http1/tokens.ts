/**
 * The character rules every HTTP/1.x parser and writer here shares (RFC 9110 5.6.2, 5.5, 5.6.4),
 * as 256-entry tables: whether a byte may appear in a token, a field value, a request target or
 * a quoted string. Table lookups beat regular expressions on the short strings of a head, and let
 * the parsers test bytes without making strings first.
 */

const TOKEN_SYMBOLS = "!#$%&'*+-.^_`|~";

function table(member: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = member(c) ? 1 : 0;
  return t;
}

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

// One table per class, 1 for a member byte: hot loops test `TABLE[c] === 1` (a class bit
// imported from another module would be a load on every byte; a table is looked up once).

/** tchar: a byte of a token (a field name, a method, a transfer coding, a chunk extension name). */
export const TCHAR: Uint8Array = table((c) => isAlnum(c) || TOKEN_SYMBOLS.includes(String.fromCharCode(c)));
/** A byte of a field value: HTAB, SP, VCHAR, obs-text (no CR, LF, NUL, other CTLs or DEL). */
export const FIELD: Uint8Array = table((c) => c === 0x09 || (c >= 0x20 && c <= 0x7e) || c >= 0x80);
/** VCHAR: visible ASCII, 0x21-0x7e (a request target's bytes). */
export const VCHAR: Uint8Array = table((c) => c >= 0x21 && c <= 0x7e);
/** qdtext: a byte of a quoted string other than the quote and the backslash. */
export const QDTEXT: Uint8Array = table((c) => c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80);
/** HEXDIG. */
export const HEX: Uint8Array = table((c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

/** Whether `s` is a non-empty token (RFC 9110 5.6.2). */
export function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** Whether `s` holds field-value bytes only (HTAB, SP, VCHAR, obs-text), as a latin1 string. */
export function isFieldValue(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || FIELD[c] !== 1) return false;
  }
  return true;
}

/** Whether `s` is visible ASCII only and non-empty (a request target). */
export function isVisible(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7e || VCHAR[c] !== 1) return false;
  }
  return true;
}

/** Whether `buf[start, end)` spells `lower` (lower-case letters and `-`), ignoring ASCII case. */
export function bytesEqualLower(buf: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    // Token bytes only reach here, and among tokens `| 0x20` only folds A-Z onto a-z.
    if ((buf[start + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether the token `s` spells `lower` (lower-case letters and `-`), ignoring ASCII case. */
export function tokenEqualLower(s: string, lower: string): boolean {
  if (s.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((s.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}
