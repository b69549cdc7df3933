import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from '../../src/http1/chunked.js';
import { ParseError } from '../../src/http1/parse-error.js';
import { parseResponseHead } from '../../src/http1/response-head.js';
import type { ResponseHead } from '../../src/http1/types.js';

/** The upstream response parsing the transport relies on (carried over from the net forwarder's tests). */
const LIMITS = { maxHeadBytes: 64 * 1024, maxHeaders: 100 };

function head(text: string, method: string): ResponseHead {
  const r = parseResponseHead(Buffer.from(text + '\r\n\r\n', 'latin1'), method, LIMITS);
  if (r.kind !== 'head') throw new Error(`${JSON.stringify(text)}: ${r.kind}${r.kind === 'invalid' ? ` (${r.reason})` : ''}`);
  return r.head;
}

function invalid(text: string): boolean {
  return parseResponseHead(Buffer.from(text + '\r\n\r\n', 'latin1'), 'GET', LIMITS).kind === 'invalid';
}

describe('response parsing', () => {
  it('a chunked body decodes the same however the bytes are split, extensions and trailers included', () => {
    const wire = Buffer.from('5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: t\r\n\r\nNEXT');
    const end = wire.length - 4;
    for (let a = 1; a < wire.length; a++) {
      for (const b of [a, Math.min(wire.length, a + 7)]) {
        const d = new ChunkedDecoder();
        const out: Buffer[] = [];
        const push = (sink: Buffer[], data: Buffer): void => void sink.push(Buffer.from(data));
        let done = -1;
        let offset = 0;
        for (const piece of [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]) {
          if (done !== -1 || piece.length === 0) {
            offset += piece.length;
            continue;
          }
          const r = d.feed(piece, 0, push, out);
          if (r !== -1) done = offset + r;
          offset += piece.length;
        }
        expect(Buffer.concat(out).toString(), `split at ${a}/${b}`).toBe('helloabcdefghijklmnopqrstuvwxyz');
        expect(done, `split at ${a}/${b}`).toBe(end);
        expect(d.trailers, `split at ${a}/${b}`).toEqual(['x-trailer', 't']);
      }
    }
  });

  it('malformed chunked framing is an error, not a guess', () => {
    for (const bad of ['zz\r\nhello\r\n0\r\n\r\n', '5\r\nhelloXX0\r\n\r\n', '5\nhello\r\n0\r\n\r\n', 'fffffffffffffff\r\n']) {
      expect(() => new ChunkedDecoder().feed(Buffer.from(bad), 0, () => {}, undefined), bad).toThrow(ParseError);
    }
  });

  it('framing follows RFC 9112: HEAD, 204 and 304 have no body; chunked wins; no length means until close', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 5', 'HEAD')).toMatchObject({ body: { kind: 'none' }, keepAlive: true });
    expect(head('HTTP/1.1 204 No Content', 'GET')).toMatchObject({ body: { kind: 'none' } });
    expect(head('HTTP/1.1 304 Not Modified\r\nContent-Length: 10', 'GET')).toMatchObject({ body: { kind: 'none' } });
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked', 'GET')).toMatchObject({ body: { kind: 'chunked', codings: ['gzip'] }, keepAlive: true });
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip', 'GET')).toMatchObject({ body: { kind: 'close' }, keepAlive: false });
    expect(head('HTTP/1.1 200 OK', 'GET')).toMatchObject({ body: { kind: 'close' }, keepAlive: false });
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close', 'GET')).toMatchObject({ body: { kind: 'length', length: 3 }, keepAlive: false });
    expect(head('HTTP/1.0 200 OK\r\nContent-Length: 3', 'GET')).toMatchObject({ keepAlive: false });
    expect(head('HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: Keep-Alive', 'GET')).toMatchObject({ keepAlive: true });
    expect(head('HTTP/1.1 404 Not Found\r\nX-A:  spaced \t\r\nContent-Type: text/event-stream', 'GET')).toMatchObject({
      status: 404,
      reason: 'Not Found',
      headers: ['X-A', 'spaced', 'Content-Type', 'text/event-stream'],
      contentType: 'text/event-stream',
    });
  });

  it('ambiguous framing and malformed heads are errors', () => {
    for (const bad of [
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4',
      'HTTP/1.1 200 OK\r\nContent-Length: -1',
      'HTTP/1.1 2000 OK',
      'HTTP/2 200 OK',
      'HTTP/1.1 200 OK\r\nno colon here',
    ]) {
      expect(invalid(bad), bad).toBe(true);
    }
  });
});
