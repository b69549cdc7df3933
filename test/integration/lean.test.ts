import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configYaml, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { rawExchange } from '../helpers/raw.js';

/**
 * Baton's own HTTP/1.1 path on the public listener (src/proxy/h1): requests in its parser's
 * subset, bodies included, are served without node:http's objects, and the first request
 * outside it hands the connection to node:http. Checked here on raw sockets, where the two
 * meet: pipelining, bodies between pipelined requests, a connection crossing over mid-way, heads
 * split across packets, Connection: close.
 */

/** Split a raw reply stream into responses (Content-Length or no body; enough for these routes). */
function responses(reply: string): Array<{ status: number; headers: Record<string, string>; body: string }> {
  const out = [];
  let at = 0;
  while (at < reply.length) {
    const end = reply.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const [statusLine, ...lines] = reply.slice(at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: reply.slice(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}

describe('lean path', () => {
  let baton: RunningBaton;
  beforeAll(async () => {
    baton = await startBaton(configYaml({ web: {} }));
  });
  afterAll(async () => {
    await baton.stop();
    await removeDir(baton.dir);
  });

  const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: app.test\r\n${extra}\r\n`;
  const post = (path: string, body: string, extra = ''): string => `POST ${path} HTTP/1.1\r\nHost: app.test\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

  it('answers pipelined requests in order, on one connection', async () => {
    const r = await rawExchange(baton.port, [get('/version') + get('/headers', 'X-Order: 2\r\n') + get('/version', 'Connection: close\r\n')]);
    expect(r.closed).toBe(true);
    const rs = responses(r.reply);
    expect(rs.map((x) => x.status)).toEqual([200, 200, 200]);
    expect(JSON.parse(rs[0]!.body)).toEqual({ version: 'v1' });
    expect(JSON.parse(rs[1]!.body)['x-order']).toBe('2');
    expect(rs[2]!.headers.connection).toBe('close');
  });

  it('serves pipelined requests with a body in between on one connection', async () => {
    // Pipelined, then one at a time: GET, POST with its body, GET; all on Baton's own path.
    const pipelined = await rawExchange(baton.port, [get('/version') + post('/echo', 'hello body') + get('/version', 'Connection: close\r\n')]);
    expect(responses(pipelined.reply).map((x) => [x.status, x.body])).toEqual([
      [200, '{"version":"v1"}'],
      [200, 'hello body'],
      [200, '{"version":"v1"}'],
    ]);
    const stepped = await rawExchange(baton.port, [get('/version'), 100, post('/echo', 'second'), 100, get('/version', 'Connection: close\r\n')]);
    expect(responses(stepped.reply).map((x) => [x.status, x.body])).toEqual([
      [200, '{"version":"v1"}'],
      [200, 'second'],
      [200, '{"version":"v1"}'],
    ]);
    expect(stepped.closed).toBe(true);
  });

  it('streams a chunked request body and reads the pipelined request behind it', async () => {
    const chunked = 'POST /echo HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n';
    const r = await rawExchange(baton.port, [chunked.slice(0, 60), 30, chunked.slice(60) + get('/version', 'Connection: close\r\n')]);
    expect(responses(r.reply).map((x) => [x.status, x.body])).toEqual([
      [200, 'hello world'],
      [200, '{"version":"v1"}'],
    ]);
  });

  it('answers a request before reading its body, drops the body, and serves the request behind it', async () => {
    const body = 'x'.repeat(20_000);
    const early = `POST /_baton/nothing-here HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await rawExchange(baton.port, [early, 50, body + get('/version', 'Connection: close\r\n')]);
    expect(responses(r.reply).map((x) => x.status)).toEqual([404, 200]);
    expect(responses(r.reply)[1]!.body).toBe('{"version":"v1"}');
  });

  it('hands a connection to node:http at a request outside its subset (Expect: 100-continue), which keeps serving it', async () => {
    const expect100 = 'POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n';
    const r = await rawExchange(baton.port, [get('/version') + expect100, 100, 'abc' + get('/version', 'Connection: close\r\n')]);
    expect(r.reply).toContain('HTTP/1.1 100 Continue\r\n');
    const finals = responses(r.reply.replace('HTTP/1.1 100 Continue\r\n\r\n', ''));
    expect(finals.map((x) => [x.status, x.body])).toEqual([
      [200, '{"version":"v1"}'],
      [200, 'abc'],
      [200, '{"version":"v1"}'],
    ]);
  });

  it('serves a head that arrives in pieces', async () => {
    const r = await rawExchange(baton.port, ['GET /ver', 30, 'sion HTTP/1.1\r\nHo', 30, 'st: app.test\r\nConnection: cl', 30, 'ose\r\n\r\n']);
    expect(r.closed).toBe(true);
    expect(responses(r.reply).map((x) => [x.status, x.body])).toEqual([[200, '{"version":"v1"}']]);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const r = await rawExchange(baton.port, [`HEAD /version HTTP/1.1\r\nHost: app.test\r\n\r\n` + get('/version', 'Connection: close\r\n')]);
    const head = r.reply.slice(0, r.reply.indexOf('\r\n\r\n') + 4);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\ncontent-length: 16\r\n/i);
    // The next bytes are the second response, not a body.
    expect(r.reply.slice(head.length)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{"version":"v1"\}$/);
  });

  it('sets Date, Keep-Alive and X-Request-Id as node:http does', async () => {
    const r = await rawExchange(baton.port, [get('/version', 'X-Request-Id: lean-1\r\n')], 500);
    const [res] = responses(r.reply);
    expect(res!.headers.date).toMatch(/GMT$/);
    expect(res!.headers.connection).toBe('keep-alive');
    expect(res!.headers['keep-alive']).toMatch(/^timeout=\d+$/);
    expect(res!.headers['x-request-id']).toBe('lean-1');
  });

  it('passes header names that are also Object.prototype names', async () => {
    // (A "__proto__" header would pass too, but node:http in the app drops it.)
    const r = await rawExchange(baton.port, [get('/headers', 'Constructor: c\r\ntoString: t\r\nhasOwnProperty: h\r\nConnection: close\r\n')]);
    const seen = JSON.parse(responses(r.reply)[0]!.body);
    expect([seen.constructor, seen.tostring, seen.hasownproperty]).toEqual(['c', 't', 'h']);
  });

  it('passes repeated header fields on, which the app joins', async () => {
    const r = await rawExchange(baton.port, [get('/headers', 'X-Twice: 1\r\nX-Twice: 2\r\nConnection: close\r\n')]);
    expect(JSON.parse(responses(r.reply)[0]!.body)['x-twice']).toBe('1, 2');
  });

  it('closes a connection that is silent from the start after headers_timeout', async () => {
    const b = await startBaton(configYaml({ web: {} }, 'limits:\n  headers_timeout: 500ms\n'));
    try {
      const r = await rawExchange(b.port, [], 4000);
      expect(r.closed).toBe(true);
      expect(r.reply).toBe('');
      expect(r.ms).toBeGreaterThan(450);
      expect(r.ms).toBeLessThan(2500);
    } finally {
      await b.stop();
      await removeDir(b.dir);
    }
  });
});
