import { describe, expect, test } from 'vitest';
import { ChunkedDecoder } from '../../../src/http1/chunked.js';
import { CRLF, chunkPrefix, framingLines, lastChunk, requestHead, responseHead } from '../../../src/http1/head-writer.js';
import { RequestHeadParser } from '../../../src/http1/request-head.js';
import { parseResponseHead } from '../../../src/http1/response-head.js';

const LIMITS = { maxHeadBytes: 16 * 1024, maxHeaders: 100 };

describe('requestHead', () => {
  test('writes the request line, the fields in order and the blank line', () => {
    expect(requestHead('GET', '/a?b', ['Host', 'x', 'Cookie', '1', 'Cookie', '2'], { kind: 'none' })).toBe(
      'GET /a?b HTTP/1.1\r\nHost: x\r\nCookie: 1\r\nCookie: 2\r\n\r\n',
    );
  });

  test('frames a body with Content-Length from what Baton read', () => {
    expect(requestHead('POST', '/', ['Host', 'x'], { kind: 'length', length: 35 })).toBe('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\n\r\n');
  });

  test('frames a chunked body with Transfer-Encoding, the codings before chunked kept (issue 17)', () => {
    expect(requestHead('POST', '/', [], { kind: 'chunked', codings: [] })).toBe('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    expect(requestHead('POST', '/', [], { kind: 'chunked', codings: ['gzip'] })).toBe('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
  });

  test('what it writes reads back as the same head', () => {
    const text = requestHead('PUT', '/p', ['Host', 'a.test', 'X', 'y z'], { kind: 'length', length: 3 });
    expect(new RequestHeadParser(LIMITS).parse(Buffer.from(text, 'latin1'))).toMatchObject({
      kind: 'head',
      head: { method: 'PUT', path: '/p', headers: ['Host', 'a.test', 'X', 'y z', 'Content-Length', '3'], body: { kind: 'length', length: 3 } },
    });
  });

  test('refuses a CR or LF in a value: it would split the request', () => {
    expect(() => requestHead('GET', '/', ['X', 'a\r\nGET /evil HTTP/1.1'], { kind: 'none' })).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD', field: 'X' }));
  });

  test('refuses a name that is not a token, a bad method and a bad target', () => {
    expect(() => requestHead('GET', '/', ['X Y', 'a'], { kind: 'none' })).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD' }));
    expect(() => requestHead('GE T', '/', [], { kind: 'none' })).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD' }));
    expect(() => requestHead('GET', '/a b', [], { kind: 'none' })).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD' }));
  });

  test('refuses a Content-Length or Transfer-Encoding among the headers: framing comes from what Baton read (issue 17)', () => {
    expect(() => requestHead('POST', '/', ['content-LENGTH', '5'], { kind: 'length', length: 5 })).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD', field: 'content-LENGTH' }));
    expect(() => requestHead('POST', '/', ['Transfer-Encoding', 'chunked'], { kind: 'none' })).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD' }));
    expect(() => responseHead(1, 200, 'OK', ['Content-Length', '1'], '')).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD' }));
    expect(requestHead('GET', '/', ['If-Modified-Since', 'x', 'X-Forwarded-Proto', 'https'], { kind: 'none' })).toContain('If-Modified-Since: x\r\n');
  });

  test('refuses a close-delimited request body', () => {
    expect(() => requestHead('POST', '/', [], { kind: 'close', codings: [] })).toThrow(TypeError);
  });
});

describe('responseHead', () => {
  test('writes the status line, the fields, the caller\'s extra lines and the blank line', () => {
    expect(responseHead(1, 200, 'OK', ['Content-Type', 'text/plain'], 'Date: x\r\nContent-Length: 2\r\n')).toBe(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: x\r\nContent-Length: 2\r\n\r\n',
    );
  });

  test('what it writes reads back as the same head', () => {
    const text = responseHead(0, 404, 'Not Found', ['X', '1'], framingLines({ kind: 'chunked', codings: ['gzip'] }));
    expect(parseResponseHead(Buffer.from(text, 'latin1'), 'GET', LIMITS)).toMatchObject({
      kind: 'head',
      head: { minor: 0, status: 404, reason: 'Not Found', body: { kind: 'chunked', codings: ['gzip'] } },
    });
  });

  test('refuses a reason phrase with CR or LF and a status outside 100-999', () => {
    expect(() => responseHead(1, 200, 'OK\r\nX: y', [], '')).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD' }));
    expect(() => responseHead(1, 99, 'x', [], '')).toThrow(expect.objectContaining({ code: 'HTTP1_INVALID_FIELD' }));
  });
});

describe('framing and chunk helpers', () => {
  test('framingLines: none writes nothing, a close-delimited body only its codings', () => {
    expect(framingLines({ kind: 'none' })).toBe('');
    expect(framingLines({ kind: 'close', codings: [] })).toBe('');
    expect(framingLines({ kind: 'close', codings: ['gzip', 'br'] })).toBe('Transfer-Encoding: gzip, br\r\n');
  });

  test('chunkPrefix, CRLF and lastChunk frame a body that decodes back', () => {
    const body = chunkPrefix(11) + 'hello world' + CRLF + chunkPrefix(300) + 'x'.repeat(300) + CRLF + lastChunk(['Trailer-X', 'v']);
    expect(chunkPrefix(300)).toBe('12c\r\n');
    const parts: Buffer[] = [];
    const d = new ChunkedDecoder();
    expect(d.feed(Buffer.from(body, 'latin1'), 0, (l: Buffer[], b) => l.push(Buffer.from(b)), parts)).toBe(body.length);
    expect(Buffer.concat(parts).toString()).toBe('hello world' + 'x'.repeat(300));
    expect(d.trailers).toEqual(['Trailer-X', 'v']);
  });

  test('lastChunk without trailers is 0 CRLF CRLF', () => {
    expect(lastChunk()).toBe('0\r\n\r\n');
  });
});
