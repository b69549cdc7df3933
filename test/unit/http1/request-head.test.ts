import { describe, expect, test } from 'vitest';
import { RequestHeadParser } from '../../../src/http1/request-head.js';
import type { HeadLimits, RequestHead, RequestHeadResult } from '../../../src/http1/types.js';

const LIMITS: HeadLimits = { maxHeadBytes: 16 * 1024, maxHeaders: 100 };

function parse(text: string, limits: HeadLimits = LIMITS): RequestHeadResult {
  return new RequestHeadParser(limits).parse(Buffer.from(text, 'latin1'));
}

function head(text: string): RequestHead {
  const r = parse(text);
  if (r.kind !== 'head') throw new Error(`expected a head, got ${JSON.stringify(r)}`);
  return r.head;
}

/** Feeds the bytes one more at a time; returns the first answer that is not incomplete and how many bytes it took. */
function trickle(text: string, limits: HeadLimits = LIMITS): { result: RequestHeadResult; at: number } {
  const bytes = Buffer.from(text, 'latin1');
  const p = new RequestHeadParser(limits);
  for (let n = 1; n <= bytes.length; n++) {
    const result = p.parse(bytes.subarray(0, n));
    if (result.kind !== 'incomplete') return { result, at: n };
  }
  return { result: { kind: 'incomplete' }, at: bytes.length };
}

describe('RequestHeadParser: the subset Baton serves', () => {
  test('a browser GET is a head with its fields in order, names as sent', () => {
    const text = 'GET /a?b=c HTTP/1.1\r\nHost: example.test\r\nUser-Agent: x/1\r\nAccept: */*\r\n\r\n';
    const r = parse(text);
    expect(r).toMatchObject({ kind: 'head', size: text.length });
    const h = (r as { head: RequestHead }).head;
    expect(h).toMatchObject({ method: 'GET', target: '/a?b=c', form: 'origin', path: '/a?b=c', authority: 'example.test', minor: 1, keepAlive: true });
    expect(h.headers).toEqual(['Host', 'example.test', 'User-Agent', 'x/1', 'Accept', '*/*']);
    expect(h.body).toEqual({ kind: 'none' });
  });

  test('field values lose surrounding OWS and keep inner whitespace and obs-text', () => {
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nX:  \tone \t two\xe9 \t\r\n\r\n').headers).toEqual(['Host', 'a', 'X', 'one \t two\xe9']);
  });

  test('an empty field value is kept as an empty string', () => {
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n').headers).toEqual(['Host', 'a', 'X-Empty', '']);
  });

  test('repeated non-framing fields are kept, in order', () => {
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nCookie: 1\r\nAccept: x\r\nCookie: 2\r\n\r\n').headers).toEqual(['Host', 'a', 'Cookie', '1', 'Accept', 'x', 'Cookie', '2']);
  });

  test('field names with underscores are accepted (the forwarding layer drops them)', () => {
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n')).toMatchObject({ headers: ['Host', 'a', 'Content_Length', '5'], body: { kind: 'none' } });
  });

  test('Content-Length frames a body of that many bytes; the head ends before it', () => {
    const r = parse('POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world');
    expect(r).toMatchObject({ kind: 'head', size: 49, head: { body: { kind: 'length', length: 11 } } });
  });

  test('Content-Length: 0 is no body', () => {
    expect(head('POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n').body).toEqual({ kind: 'none' });
  });

  test('Transfer-Encoding: chunked frames a chunked body', () => {
    expect(head('POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n').body).toEqual({ kind: 'chunked', codings: [] });
  });

  test('codings before chunked are kept, lower case, for the recipient to undo (issue 17)', () => {
    expect(head('POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: GZip , chunked\r\n\r\n').body).toEqual({ kind: 'chunked', codings: ['gzip'] });
  });

  test('a body is framed by what Baton read, even when Connection names the framing field (issue 17)', () => {
    const text = 'POST /a HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\nContent-Length: 35\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const r = parse(text);
    expect(r).toMatchObject({ kind: 'head', head: { body: { kind: 'length', length: 35 }, connection: ['content-length'] } });
    expect(text.length - (r as { size: number }).size).toBe(35);
  });

  test('HTTP/1.1 keeps the connection alive unless Connection says close', () => {
    expect(head('GET / HTTP/1.1\r\nHost: a\r\n\r\n').keepAlive).toBe(true);
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n')).toMatchObject({ keepAlive: false, connection: ['keep-alive', 'close'] });
  });

  test('HTTP/1.0 keeps the connection alive only with Connection: keep-alive', () => {
    expect(head('GET / HTTP/1.0\r\n\r\n')).toMatchObject({ minor: 0, keepAlive: false, authority: undefined });
    expect(head('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive).toBe(true);
  });

  test('Connection tokens are lower case, every Connection field counted', () => {
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Foo,, keep-alive\r\nConnection: TE\r\n\r\n').connection).toEqual(['x-foo', 'keep-alive', 'te']);
  });

  test('an upgrade needs Connection: upgrade and an Upgrade field; its value comes lower case', () => {
    expect(head('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n').upgrade).toBe('websocket');
    expect(head('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade).toBeUndefined();
    expect(head('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n').upgrade).toBeUndefined();
  });

  test('absolute-form: the authority wins over Host and the path is sent on (RFC 9112 3.2.2, issue 17)', () => {
    expect(head('GET http://other.test:8080/p?q HTTP/1.1\r\nHost: a.test\r\n\r\n')).toMatchObject({
      form: 'absolute',
      target: 'http://other.test:8080/p?q',
      authority: 'other.test:8080',
      path: '/p?q',
    });
  });

  test('absolute-form without a path sends /', () => {
    expect(head('GET HTTPS://b.test HTTP/1.1\r\nHost: a\r\n\r\n')).toMatchObject({ authority: 'b.test', path: '/' });
    expect(head('GET http://b.test?x=1 HTTP/1.1\r\nHost: a\r\n\r\n')).toMatchObject({ authority: 'b.test', path: '/?x=1' });
  });

  test('OPTIONS * is asterisk-form', () => {
    expect(head('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n')).toMatchObject({ form: 'asterisk', target: '*', path: '*' });
  });

  test('WebDAV and QUERY requests are served', () => {
    for (const m of ['PROPFIND', 'MKCOL', 'QUERY', 'PATCH', 'DELETE']) expect(head(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`).method).toBe(m);
  });

  test('a head that arrives byte by byte is the same head as one read at once', () => {
    const text = 'POST /x?y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: keep-alive\r\nCookie: a=b\r\n\r\n';
    expect(trickle(text)).toEqual({ result: parse(text), at: text.length });
  });

  test('bytes trickling in are each looked at a bounded number of times, however long the line', () => {
    const text = `GET /${'p'.repeat(3000)} HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(20000)}`;
    const bytes = Buffer.from(text, 'latin1');
    let reads = 0;
    const p = new RequestHeadParser({ maxHeadBytes: 64 * 1024, maxHeaders: 10 });
    for (let n = 7; n <= bytes.length; n += 7) {
      // A view whose byte reads are counted.
      const view = new Proxy(bytes.subarray(0, n), {
        get(target, key) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key) as unknown;
        },
      });
      expect(p.parse(view).kind).toBe('incomplete');
    }
    expect(reads).toBeLessThan(3 * bytes.length);
  });

  test('a head is incomplete until its blank line', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: a\r\n')).toEqual({ kind: 'incomplete' });
    expect(parse('GET / HTTP/1.1\r\nHost: a\r\n\r')).toEqual({ kind: 'incomplete' });
  });

  test('the parser reads the next head after answering', () => {
    const p = new RequestHeadParser(LIMITS);
    expect(p.parse(Buffer.from('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n'))).toMatchObject({ head: { target: '/1' } });
    expect(p.parse(Buffer.from('GET /2 HTTP/1.1\r\nHost: b\r\n\r\n'))).toMatchObject({ head: { target: '/2', authority: 'b' } });
  });
});

describe('RequestHeadParser: declined at the first byte that decides (issue 17)', () => {
  const cases: [string, string, string][] = [
    // [what, the bytes that decide it (declined as the last of them arrives), the rest]
    ['a TLS ClientHello on the plain port', '\x16', '\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'],
    ['a bare LF ending the request line', 'GET / HTTP/1.1\n', 'Host: x\n\n'],
    ['a bare LF ending a field line', 'GET / HTTP/1.1\r\nHost: x\n', 'X: y\r\n\r\n'],
    ['a CR not followed by LF', 'GET / HTTP/1.1\r\nHost: x\rX', ': y\r\n\r\n'],
    ['NUL in a field value', 'GET / HTTP/1.1\r\nHost: x\x00', 'y\r\n\r\n'],
    ['a CTL in a field value', 'GET / HTTP/1.1\r\nHost: a\r\nX: \x01', '\r\n\r\n'],
    ['DEL in a field value', 'GET / HTTP/1.1\r\nHost: a\r\nX: \x7f', '\r\n\r\n'],
    ['whitespace before a colon', 'GET / HTTP/1.1\r\nHost ', ': x\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n ', 'b\r\n\r\n'],
    ['whitespace before the first field', 'GET / HTTP/1.1\r\n ', 'Host: x\r\n\r\n'],
    ['an empty field name', 'GET / HTTP/1.1\r\n:', ' x\r\nHost: a\r\n\r\n'],
    ['a non-token byte in a field name', 'GET / HTTP/1.1\r\nHo\xef', 'st: x\r\n\r\n'],
    ['an unknown method', 'FO', 'O / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a lower-case method', 'g', 'et / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['leading blank lines (llhttp skips them)', '\r', '\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['two spaces after the method', 'GET  ', '/ HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a fragment in the target', 'GET /a#', 'b HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a non-ASCII target', 'GET /\xe9', ' HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['HTTP/1.2', 'GET / HTTP/1.2', '\r\nHost: a\r\n\r\n'],
    ['junk after the version', 'GET / HTTP/1.1 ', '\r\nHost: a\r\n\r\n'],
    ['a second Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n', '\r\n'],
    ['conflicting Content-Lengths, before the head ends', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n', ''],
    ['identical repeated Content-Lengths', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n', '\r\nx'],
    ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n', '\r\nx'],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n', '\r\nx'],
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n', '\r\n'],
    ['Transfer-Encoding with Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n', '\r\n'],
    ['a repeated Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '\r\n'],
    ['chunked not last', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n', '\r\n'],
    ['a Transfer-Encoding without chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n', '\r\n'],
    ['an empty list element in Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n', '\r\n'],
    ['HTAB after chunked (llhttp 9.3 does not read it as chunked)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n', '\r\n'],
    ['HTAB after a Content-Length (llhttp 9.3 refuses it)', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\t\r\n', '\r\nx'],
    ['Transfer-Encoding on HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n', '\r\n'],
    ['Expect (node:http answers 100-continue)', 'POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n', '\r\n'],
    ['Proxy-Connection (llhttp reads it as Connection)', 'GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: close\r\n', '\r\n'],
    ['an upgrade with a body', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ws\r\nContent-Length: 1\r\n\r\n', 'x'],
    ['TRACE (left to node:http)', 'TRACE / HTTP/1.1\r\n', 'Host: a\r\n\r\n'],
    ['an RTSP method with an HTTP version (llhttp refuses it)', 'DESCRIBE / HTTP/1.1\r\n', 'Host: a\r\n\r\n'],
    ['* with a method other than OPTIONS', 'GET * HTTP/1.1\r\n', 'Host: a\r\n\r\n'],
    ['a scheme other than http', 'GET ftp://a/ HTTP/1.1\r\n', 'Host: a\r\n\r\n'],
    ['userinfo in an absolute-form target', 'GET http://u@a/ HTTP/1.1\r\n', 'Host: a\r\n\r\n'],
  ];
  for (const [what, decisive, rest] of cases) {
    test(`${what} is declined as soon as it shows`, () => {
      const { result, at } = trickle(decisive + rest);
      expect(result.kind).toBe('decline');
      expect(at).toBe(decisive.length);
      expect(parse(decisive + rest).kind).toBe('decline');
    });
  }

  test('HTTP/1.1 without Host is declined once the head ends', () => {
    expect(parse('GET / HTTP/1.1\r\nAccept: x\r\n\r\n')).toMatchObject({ kind: 'decline', reason: 'HTTP/1.1 without Host' });
  });

  test('a head longer than maxHeadBytes is declined, in one read or many', () => {
    const text = `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(200)}\r\n\r\n`;
    const limits = { maxHeadBytes: 100, maxHeaders: 10 };
    expect(parse(text, limits)).toMatchObject({ kind: 'decline', reason: 'head too large' });
    expect(trickle(text, limits)).toMatchObject({ result: { kind: 'decline' }, at: 100 });
  });

  test('a head of exactly maxHeadBytes is read', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    expect(parse(text, { maxHeadBytes: text.length, maxHeaders: 10 }).kind).toBe('head');
  });

  test('more than maxHeaders fields are declined at the first one too many', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n';
    expect(parse(text, { maxHeadBytes: 1000, maxHeaders: 3 })).toMatchObject({ kind: 'decline', reason: 'too many header fields' });
    expect(parse(text, { maxHeadBytes: 1000, maxHeaders: 4 }).kind).toBe('head');
  });
});

describe('RequestHeadParser: rejected (llhttp would take them, a proxy must not pass them on)', () => {
  test('RTSP is refused with 505 (issue 17: it was forwarded as HTTP/1.1)', () => {
    expect(parse('ANNOUNCE rtsp://a/b RTSP/1.0\r\nCSeq: 1\r\n\r\n')).toMatchObject({ kind: 'reject', status: 505 });
    expect(trickle('ANNOUNCE * RTSP/1.0\r\n\r\n')).toMatchObject({ result: { kind: 'reject', status: 505 }, at: 16 });
  });

  test('ICE is refused with 505', () => {
    expect(parse('SOURCE /m ICE/1.0\r\n\r\n')).toMatchObject({ kind: 'reject', status: 505 });
  });

  test('HTTP/2.0 and the HTTP/2 preface are refused with 505', () => {
    expect(parse('GET / HTTP/2.0\r\nHost: a\r\n\r\n')).toMatchObject({ kind: 'reject', status: 505 });
    expect(parse('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')).toMatchObject({ kind: 'reject', status: 505 });
  });

  test('HTTP/0.9 (no version) and HTTP/0.9 spelled out are refused with 505', () => {
    expect(parse('GET /\r\n\r\n')).toMatchObject({ kind: 'reject', status: 505 });
    expect(parse('GET / HTTP/0.9\r\n\r\n')).toMatchObject({ kind: 'reject', status: 505 });
  });

  test('CONNECT is refused with 405: Baton is not a forward proxy', () => {
    expect(parse('CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n')).toMatchObject({ kind: 'reject', status: 405 });
  });
});
