import { describe, expect, test } from 'vitest';
import { ResponseHeadParser, parseResponseHead } from '../../../src/http1/response-head.js';
import type { HeadLimits, ResponseHead, ResponseHeadResult } from '../../../src/http1/types.js';

const LIMITS: HeadLimits = { maxHeadBytes: 64 * 1024, maxHeaders: 100 };

function parse(text: string, method = 'GET', limits: HeadLimits = LIMITS): ResponseHeadResult {
  return parseResponseHead(Buffer.from(text, 'latin1'), method, limits);
}

function head(text: string, method = 'GET'): ResponseHead {
  const r = parse(text, method);
  if (r.kind !== 'head') throw new Error(`expected a head, got ${JSON.stringify(r)}`);
  return r.head;
}

/** Feeds one more byte at a time: the first answer that is not incomplete, and the bytes it took. */
function trickle(text: string, method = 'GET', limits: HeadLimits = LIMITS): { result: ResponseHeadResult; at: number } {
  const bytes = Buffer.from(text, 'latin1');
  const p = new ResponseHeadParser(limits);
  for (let n = 1; n <= bytes.length; n++) {
    const result = p.parse(bytes.subarray(0, n), method);
    if (result.kind !== 'incomplete') return { result, at: n };
  }
  return { result: { kind: 'incomplete' }, at: bytes.length };
}

describe('ResponseHeadParser: heads and their framing (RFC 9112 6.3)', () => {
  test('a 200 with Content-Length is framed by length; fields in order, names as sent', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\nhello';
    const r = parse(text);
    expect(r).toMatchObject({ kind: 'head', size: text.length - 5 });
    expect((r as { head: ResponseHead }).head).toEqual({
      minor: 1,
      status: 200,
      reason: 'OK',
      headers: ['Content-Type', 'text/html', 'Content-Length', '5', 'Set-Cookie', 'a', 'Set-Cookie', 'b'],
      body: { kind: 'length', length: 5 },
      keepAlive: true,
      connection: [],
      contentType: 'text/html',
    });
  });

  test('Content-Length: 0 is a length of 0', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').body).toEqual({ kind: 'length', length: 0 });
  });

  test('chunked last is chunked, the codings before it kept (issue 17)', () => {
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').body).toEqual({ kind: 'chunked', codings: ['gzip'] });
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n').body).toEqual({ kind: 'chunked', codings: ['gzip'] });
  });

  test('Transfer-Encoding without chunked is close-delimited, codings kept, and ends the connection', () => {
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')).toMatchObject({ body: { kind: 'close', codings: ['gzip'] }, keepAlive: false });
  });

  test('no length and no chunked is close-delimited', () => {
    expect(head('HTTP/1.1 200 OK\r\n\r\n')).toMatchObject({ body: { kind: 'close', codings: [] }, keepAlive: false });
  });

  test('answers to HEAD, 1xx, 204 and 304 have no body whatever they say', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD').body).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n').body).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').body).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n').body).toEqual({ kind: 'none' });
  });

  test('a HEAD answer with neither length nor chunked ends the connection, as Node\'s client does', () => {
    expect(head('HTTP/1.1 200 OK\r\n\r\n', 'HEAD')).toMatchObject({ body: { kind: 'none' }, keepAlive: false });
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', 'HEAD').keepAlive).toBe(true);
  });

  test('101 is a head like any other, with no body and no keep-alive', () => {
    expect(head('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).toMatchObject({
      status: 101,
      body: { kind: 'none' },
      keepAlive: false,
      connection: ['upgrade'],
    });
  });

  test('HTTP/1.0 keeps alive only with Connection: keep-alive; close ends any', () => {
    expect(head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n').keepAlive).toBe(true);
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n').keepAlive).toBe(false);
  });

  test('Proxy-Connection: close ends the connection, as llhttp reads it', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nProxy-Connection: close\r\n\r\n').keepAlive).toBe(false);
  });

  test('HTAB in Connection ends the connection (llhttp versions read close<HTAB> differently)', () => {
    expect(head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\t\r\n\r\n').keepAlive).toBe(false);
  });

  test('a reason phrase may be empty or absent', () => {
    expect(head('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').reason).toBe('');
    expect(head('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').reason).toBe('');
    expect(head('HTTP/1.1 404 Not \tFound\xe9\r\nContent-Length: 0\r\n\r\n').reason).toBe('Not \tFound\xe9');
  });

  test('contentType is the first Content-Type', () => {
    expect(head('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nContent-Type: x\r\n\r\n').contentType).toBe('text/event-stream');
  });

  test('bytes trickling in are each looked at a bounded number of times, however long the line', () => {
    const bytes = Buffer.from(`HTTP/1.1 200 ${'r'.repeat(3000)}\r\nX: ${'v'.repeat(20000)}`, 'latin1');
    let reads = 0;
    const p = new ResponseHeadParser(LIMITS);
    for (let n = 7; n <= bytes.length; n += 7) {
      const view = new Proxy(bytes.subarray(0, n), {
        get(target, key) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key) as unknown;
        },
      });
      expect(p.parse(view, 'GET').kind).toBe('incomplete');
    }
    expect(reads).toBeLessThan(3 * bytes.length);
  });

  test('a head that arrives byte by byte is the same head as one read at once', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: keep-alive\r\nX: y\r\n\r\n';
    expect(trickle(text)).toEqual({ result: parse(text), at: text.length });
  });
});

describe('ResponseHeadParser: one length on two lines', () => {
  test('reads identical repeated Content-Lengths as one length (llhttp refuses them; issue 17 asks for one)', () => {
    const r = parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'), 'GET', { maxHeadBytes: 65536, maxHeaders: 100 });
    expect(r.kind === 'head' && r.head.body).toEqual({ kind: 'length', length: 5 });
    const differently = parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 005\r\n\r\nhello'), 'GET', { maxHeadBytes: 65536, maxHeaders: 100 });
    expect(differently.kind).toBe('invalid');
  });
});

describe('ResponseHeadParser: invalid as soon as it shows (issue 17)', () => {
  const cases: [string, string, string][] = [
    // [what, the bytes that decide it, the rest]
    ['an LF-only head (it waited for the upstream timeout before)', 'HTTP/1.1 200 OK\n', 'Content-Length: 0\n\n'],
    ['a bare LF hidden in a Set-Cookie of a 403', 'HTTP/1.1 403 Forbidden\r\nSet-Cookie: a=b\n', 'X: y\r\n\r\n'],
    ['NUL in a value', 'HTTP/1.1 200 OK\r\nX: a\x00', 'b\r\n\r\n'],
    ['whitespace before a colon', 'HTTP/1.1 200 OK\r\nX ', ': y\r\n\r\n'],
    ['obs-fold continuing Content-Length (read as 5, forwarded as "5 0" before)', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n ', '0\r\n\r\nhello'],
    ['obs-fold continuing Transfer-Encoding: gzip into chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n ', 'chunked\r\n\r\n'],
    ['obs-fold after chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n ', ' abc\r\n\r\n'],
    ['obs-fold on any field (llhttp refuses it too)', 'HTTP/1.1 200 OK\r\nX: a\r\n\t', 'b\r\nContent-Length: 0\r\n\r\n'],
    ['a Content-Length list of one value twice', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n', '\r\nhello'],
    ['conflicting Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n', '\r\nhello'],
    ['an empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: \r\n', '\r\n'],
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n', '\r\n'],
    ['Transfer-Encoding with Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n', '\r\n'],
    ['chunked before another Transfer-Encoding field', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n', '\r\n'],
    ['chunked twice', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n', '\r\n'],
    ['a quoted transfer coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: "chunked"\r\n', '\r\n'],
    ['HTAB after chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n', '\r\n'],
    ['an empty Transfer-Encoding (llhttp ignores it)', 'HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n', 'Content-Length: 1\r\n\r\nx'],
    ['a protocol other than HTTP/1.x', 'R', 'TSP/1.0 200 OK\r\n\r\n'],
    ['HTTP/2.0', 'HTTP/2', '.0 200 OK\r\n\r\n'],
    ['HTTP/1.2', 'HTTP/1.2', ' 200 OK\r\n\r\n'],
    ['leading blank lines', '\r', '\nHTTP/1.1 200 OK\r\n\r\n'],
    ['a two-digit status', 'HTTP/1.1 20 ', 'OK\r\n\r\n'],
    ['a status below 100', 'HTTP/1.1 0', '99 OK\r\n\r\n'],
    ['a CTL in the reason phrase', 'HTTP/1.1 200 O\x01', 'K\r\n\r\n'],
    ['CR not followed by LF after the status line', 'HTTP/1.1 200 OK\r\r', '\n\r\n'],
    ['an informational response that closes the connection', 'HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n'],
  ];
  for (const [what, decisive, rest] of cases) {
    test(`${what} is invalid`, () => {
      const { result, at } = trickle(decisive + rest);
      expect(result.kind).toBe('invalid');
      expect(at).toBe(decisive.length);
      expect(parse(decisive + rest).kind).toBe('invalid');
    });
  }

  test('a head over the limit is invalid even when it arrives in one read (issue 17)', () => {
    const text = `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70 * 1024)}\r\n\r\n`;
    expect(parse(text)).toMatchObject({ kind: 'invalid', reason: 'head too large' });
    const small = { maxHeadBytes: 40, maxHeaders: 10 };
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: 1\r\n\r\n', 'GET', small)).toMatchObject({ kind: 'invalid' });
  });

  test('more than maxHeaders fields are invalid', () => {
    expect(parse('HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n', 'GET', { maxHeadBytes: 100, maxHeaders: 1 })).toMatchObject({ kind: 'invalid', reason: 'too many header fields' });
  });

  test('the parser reads the next head after answering', () => {
    const p = new ResponseHeadParser(LIMITS);
    expect(p.parse(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'), 'POST')).toMatchObject({ head: { status: 100 } });
    expect(p.parse(Buffer.from('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'), 'POST')).toMatchObject({ head: { status: 201 } });
  });
});
