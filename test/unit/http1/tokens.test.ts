import { describe, expect, test } from 'vitest';
import { FIELD, HEX, QDTEXT, TCHAR, VCHAR, bytesEqualLower, isFieldValue, isToken, isVisible, tokenEqualLower } from '../../../src/http1/tokens.js';

const bytesWith = (table: Uint8Array): string =>
  [...table.keys()]
    .filter((c) => table[c] === 1)
    .map((c) => String.fromCharCode(c))
    .join('');

describe('character classes (RFC 9110 5.6.2, 5.5, 5.6.4)', () => {
  test('tchar is ALPHA, DIGIT and !#$%&\'*+-.^_`|~, nothing else', () => {
    expect(bytesWith(TCHAR)).toBe("!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~");
  });

  test('field-value bytes are HTAB, SP, VCHAR and obs-text: no CR, LF, NUL, other CTLs or DEL', () => {
    const field = bytesWith(FIELD);
    expect(field.length).toBe(1 + 95 + 128);
    for (const c of ['\r', '\n', '\0', '\x01', '\x0b', '\x1f', '\x7f']) expect(field.includes(c)).toBe(false);
  });

  test('VCHAR is 0x21-0x7e', () => {
    expect(bytesWith(VCHAR)).toBe(Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)).join(''));
  });

  test('qdtext excludes the quote and the backslash', () => {
    const q = bytesWith(QDTEXT);
    expect(q.includes('"')).toBe(false);
    expect(q.includes('\\')).toBe(false);
    expect(q.includes('\t') && q.includes(' ') && q.includes('\xff')).toBe(true);
  });

  test('HEXDIG in either case', () => {
    expect(bytesWith(HEX)).toBe('0123456789ABCDEFabcdef');
  });
});

describe('string checks', () => {
  test('isToken: non-empty tchar only', () => {
    expect(isToken('Content_Length')).toBe(true);
    expect(isToken('')).toBe(false);
    expect(isToken('a b')).toBe(false);
    expect(isToken('a:')).toBe(false);
    expect(isToken('\u0100')).toBe(false);
  });

  test('isFieldValue: empty allowed, CR and LF not', () => {
    expect(isFieldValue('')).toBe(true);
    expect(isFieldValue('a\tb \xe9')).toBe(true);
    expect(isFieldValue('a\r\nb')).toBe(false);
    expect(isFieldValue('\u2028')).toBe(false);
  });

  test('isVisible: non-empty visible ASCII', () => {
    expect(isVisible('/a?b#c')).toBe(true);
    expect(isVisible('/a b')).toBe(false);
    expect(isVisible('')).toBe(false);
  });

  test('bytesEqualLower compares token bytes ignoring case', () => {
    const b = Buffer.from('xContent-LENGTHx');
    expect(bytesEqualLower(b, 1, 15, 'content-length')).toBe(true);
    expect(bytesEqualLower(b, 1, 14, 'content-length')).toBe(false);
    expect(bytesEqualLower(Buffer.from('content_length'), 0, 14, 'content-length')).toBe(false);
  });

  test('tokenEqualLower compares a token string ignoring case', () => {
    expect(tokenEqualLower('Transfer-ENCODING', 'transfer-encoding')).toBe(true);
    expect(tokenEqualLower('Transfer_Encoding', 'transfer-encoding')).toBe(false);
    expect(tokenEqualLower('Content-Length ', 'content-length')).toBe(false);
  });
});
