import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import { ROOT, configYaml, dispose, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { rawExchange, type RawTls } from '../helpers/raw.js';
import { h2RawRequest } from '../helpers/h2-raw.js';
import { h2Connect, h2Request, tlsSite, type TestCa } from '../helpers/tls.js';
import { RawUpstream } from '../differential/upstream.js';
import { values } from '../differential/fields.js';

/**
 * Issue 17's hostile requests over the TLS listener, which has an HTTP/1.1 server and a
 * node:http fallback of its own: each payload goes to one Baton over plain HTTP and over
 * HTTPS/1.1, and the app must see the same requests, and the client the same answers, on both.
 * Then HTTP/2: connection-specific fields, a Content-Length its DATA contradicts, and CR/LF in
 * a field or pseudo-header, sent with a raw HTTP/2 client, must never frame what Baton writes to
 * the HTTP/1.1 upstream (a raw logging one, reading it with llhttp).
 */
const LOGGING_APP = path.join(ROOT, 'test/fixtures/logging-app.js');
const RAW_APP = path.join(ROOT, 'test/fixtures/raw-app.js');
const RELAY = path.join(ROOT, 'test/differential/relay.js');

let dir: string;
let ca: TestCa;
let baton: RunningBaton | undefined;
let tlsPort: number;
let upstream: RawUpstream;
let over: RawTls;

beforeAll(async () => {
  // redirect_http off (tlsSection): the same payloads go over plain HTTP to the same Baton.
  const site = await tlsSite('baton-sec-tls-', ['localhost', 'llhttp.test', 'raw.test', 'replay.test']);
  ({ dir, ca, port: tlsPort } = site);
  over = { ca: ca.pem, servername: 'llhttp.test' };
  upstream = new RawUpstream();
  const upstreamPort = await upstream.listen();
  baton = await startBaton(
    configYaml(
      {
        app: { hosts: ['llhttp.test'], command: ['node', LOGGING_APP] },
        raw: { hosts: ['raw.test'], command: ['node', RAW_APP] },
        replay: { hosts: ['replay.test'], command: ['node', RELAY], env: { REPLAY_UPSTREAM_PORT: String(upstreamPort) } },
      },
      site.section,
    ),
  );
});
afterAll(async () => {
  await dispose(baton);
  await upstream?.close();
  if (dir !== undefined) await removeDir(dir);
});

interface Seen {
  method: string;
  url: string;
  host: string | null;
  body: string;
  afterRefusal?: boolean;
}

function seen(): Promise<Seen[]> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: baton!.port, path: '/__log', agent: false, headers: { host: 'llhttp.test' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(JSON.parse(body) as Seen[]));
      })
      .on('error', reject);
  });
}

/** What one payload did: the requests the app recorded, and the statuses the client got. */
async function outcome(wire: string | Buffer, via: RawTls | undefined, waitMs = 1500): Promise<{ app: string[]; statuses: string[]; ms: number }> {
  const before = (await seen()).length;
  const r = await rawExchange(via === undefined ? baton!.port : tlsPort, [wire], waitMs, via);
  await new Promise((res) => setTimeout(res, 100));
  const app = (await seen()).slice(before).map((s) => `${s.afterRefusal === true ? 'after-refusal ' : ''}${s.method} ${s.url} host=${s.host} body=${JSON.stringify(s.body)}`);
  return { app, statuses: [...r.reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!), ms: r.ms };
}

/** The payload over plain HTTP and over HTTPS/1.1: both outcomes, which must be the same. */
async function both(wire: string | Buffer, waitMs?: number): Promise<{ app: string[]; statuses: string[]; ms: number }> {
  const plain = await outcome(wire, undefined, waitMs);
  const secure = await outcome(wire, over, waitMs);
  expect({ app: secure.app, statuses: secure.statuses }).toEqual({ app: plain.app, statuses: plain.statuses });
  return secure;
}

const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: llhttp.test\r\n\r\n';

describe('issue 17 over HTTPS/1.1, as over plain HTTP', () => {
  it.each([['content-length'], ['keep-alive, Content-Length']])('Connection: %s forwards one POST with its body, never a second request', async (connection) => {
    const wire = `POST /a HTTP/1.1\r\nHost: llhttp.test\r\nConnection: ${connection}\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`;
    const r = await both(wire);
    expect(r.app).toEqual([`POST /a host=llhttp.test body=${JSON.stringify(smuggled)}`]);
  });

  it('a second Connection field naming content-length forwards one POST with its body', async () => {
    const wire = `POST /a HTTP/1.1\r\nHost: llhttp.test\r\nConnection: keep-alive\r\nConnection: content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`;
    const r = await both(wire);
    expect(r.app).toEqual([`POST /a host=llhttp.test body=${JSON.stringify(smuggled)}`]);
  });

  it('Connection: content-length on a request node:http reads (Expect declines it there) forwards one POST with its body', async () => {
    const wire = `POST /a HTTP/1.1\r\nHost: llhttp.test\r\nExpect: 100-continue\r\nConnection: content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`;
    const r = await both(wire);
    expect(r.app).toEqual([`POST /a host=llhttp.test body=${JSON.stringify(smuggled)}`]);
  });

  it('Connection: close, transfer-encoding with a chunked body forwards the body as a body', async () => {
    const wire = `POST /a HTTP/1.1\r\nHost: llhttp.test\r\nConnection: close, transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const r = await both(wire);
    expect(r.app).toEqual([`POST /a host=llhttp.test body=${JSON.stringify(smuggled)}`]);
  });

  it('Connection: host keeps the Host Baton routed on', async () => {
    const r = await both('GET /h HTTP/1.1\r\nHost: llhttp.test\r\nConnection: host, close\r\n\r\n');
    expect(r.app).toEqual(['GET /h host=llhttp.test body=""']);
  });

  it('bytes behind an upgrade request wait for the 101: an app that refuses never sees them', async () => {
    const upgrade =
      'GET /refuse HTTP/1.1\r\nHost: llhttp.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const r = await both(`${upgrade}GET /pipelined HTTP/1.1\r\nHost: llhttp.test\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`);
    expect(r.statuses).toEqual(['403']);
    expect(r.app.filter((a) => a.startsWith('after-refusal'))).toEqual([]);
  });

  it.each([
    ['a bare LF line end', 'GET / HTTP/1.1\nHost: llhttp.test\n\n'],
    ['conflicting Content-Lengths before the head ends', 'POST / HTTP/1.1\r\nHost: llhttp.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n'],
    ['a space before a colon', 'GET / HTTP/1.1\r\nHost : llhttp.test\r\n'],
  ])('%s is refused at once, not at headers_timeout', async (_what, wire) => {
    const r = await both(wire, 5000);
    expect(r.statuses).toEqual(['400']);
    expect(r.app).toEqual([]);
    expect(r.ms).toBeLessThan(1500);
  });

  it('an RTSP request is refused, not forwarded as HTTP/1.1', async () => {
    const r = await both('ANNOUNCE rtsp://llhttp.test/a RTSP/1.0\r\nCSeq: 1\r\nHost: llhttp.test\r\n\r\n');
    expect(r.statuses).toEqual(['505']);
    expect(r.app).toEqual([]);
  });

  it('an answer the plain path refuses (a folded Content-Length) is refused with 502 over TLS too', async () => {
    const plain = await rawExchange(baton!.port, ['GET /cl-fold HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n'], 3000);
    const secure = await rawExchange(tlsPort, ['GET /cl-fold HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n'], 3000, { ca: ca.pem, servername: 'raw.test' });
    expect(plain.reply).toMatch(/^HTTP\/1\.1 502/);
    expect(secure.reply).toMatch(/^HTTP\/1\.1 502/);
  });
});

describe('HTTP/2 requests cannot frame what goes to the HTTP/1.1 upstream', () => {
  const pseudo = (method: string, p: string): Array<[string, string]> => [
    [':method', method],
    [':scheme', 'https'],
    [':authority', 'replay.test'],
    [':path', p],
  ];

  /** The requests the raw upstream read, and whether llhttp refused any byte of what came. */
  async function upstreamSaw(attempt: () => Promise<unknown>): Promise<{ urls: string[]; refused: number }> {
    const mark = upstream.mark();
    await attempt();
    await new Promise((r) => setTimeout(r, 200));
    return { urls: upstream.all(mark).map((f) => `${f.message.method} ${f.message.url}`).filter((u) => !u.endsWith('/healthz')), refused: upstream.refused(mark).length };
  }

  it.each([
    ['connection: content-length', [['connection', 'content-length'], ['content-length', String(smuggled.length)]]],
    ['transfer-encoding: chunked', [['transfer-encoding', 'chunked']]],
    ['keep-alive', [['keep-alive', 'timeout=5']]],
    ['proxy-connection', [['proxy-connection', 'keep-alive']]],
    ['upgrade', [['upgrade', 'websocket']]],
    ['te other than trailers', [['te', 'gzip']]],
  ] as Array<[string, Array<[string, string]>]>)('a request carrying %s is reset, and nothing reaches the upstream', async (_what, fields) => {
    const got = await upstreamSaw(async () => {
      const r = await h2RawRequest(tlsPort, ca.pem, [...pseudo('POST', '/h2-connection-field'), ...fields], [`${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`]);
      expect(r.reset ?? r.goaway).toBeDefined();
      expect(r.status).toBeUndefined();
    });
    expect(got).toEqual({ urls: [], refused: 0 });
  });

  it.each([
    ['shorter than its DATA', '5'],
    ['longer than its DATA', '500'],
  ])('a Content-Length %s is reset, its body never read as a request upstream', async (_what, length) => {
    const got = await upstreamSaw(async () => {
      const r = await h2RawRequest(tlsPort, ca.pem, [...pseudo('POST', '/h2-length'), ['content-length', length]], ['hello', smuggled]);
      expect(r.reset ?? r.goaway).toBeDefined();
    });
    expect(got.urls.filter((u) => u.includes('smuggled'))).toEqual([]);
    expect(got.refused).toBe(0);
  });

  it.each([
    [':path', pseudo('GET', `/h2-crlf HTTP/1.1\r\nHost: replay.test\r\n\r\n${smuggled}`)],
    [':method', pseudo(`GET /h2-crlf HTTP/1.1\r\nHost: replay.test\r\n\r\nGET`, '/smuggled')],
    [':authority', [[':method', 'GET'], [':scheme', 'https'], [':authority', `replay.test\r\nTransfer-Encoding: chunked`], [':path', '/h2-crlf']]],
  ] as Array<[string, Array<[string, string]>]>)('CR LF in %s is refused, and nothing reaches the upstream', async (_what, fields) => {
    const got = await upstreamSaw(async () => {
      const r = await h2RawRequest(tlsPort, ca.pem, fields);
      // Reset, or answered by Baton with a 4xx; never forwarded.
      if (r.reset === undefined && r.goaway === undefined) expect(r.status === 0 || (r.status !== undefined && r.status >= 400)).toBe(true);
    });
    expect(got).toEqual({ urls: [], refused: 0 });
  });

  // node:http2 (nghttp2) drops such a field and serves the stream (RFC 9113 8.2.1 would have it
  // malformed): what matters here is that no byte of it reaches the HTTP/1.1 upstream.
  it.each([
    ['a field value', ['x-a', 'a\r\nTransfer-Encoding: chunked']],
    ['a field name', ['x-a\r\ntransfer-encoding', 'chunked']],
  ] as Array<[string, [string, string]]>)('CR LF in %s never reaches the upstream: one request, without the field', async (_what, field) => {
    const mark = upstream.mark();
    const r = await h2RawRequest(tlsPort, ca.pem, [...pseudo('GET', '/h2-crlf-field'), field]);
    expect(r.reset !== undefined || r.status === 200).toBe(true);
    await new Promise((res) => setTimeout(res, 200));
    const got = upstream.all(mark).filter((f) => !(f.message.url ?? '').endsWith('/healthz'));
    expect(got.map((f) => `${f.message.method} ${f.message.url}`)).toEqual(r.reset === undefined ? ['GET /h2-crlf-field'] : []);
    for (const f of got) {
      expect(values(f.message.headers, 'transfer-encoding')).toEqual([]);
      expect(f.message.headers.filter((h) => /^x-a/i.test(h))).toEqual([]);
    }
    expect(upstream.refused(mark)).toEqual([]);
  });

  it('a body without Content-Length goes up as one chunked body, whatever it holds', async () => {
    const session = await h2Connect(tlsPort, ca.pem, 'replay.test');
    try {
      const mark = upstream.mark();
      const r = await h2Request(session, { ':method': 'POST', ':path': '/h2-body', ':authority': 'replay.test' }, Buffer.from(smuggled, 'latin1'));
      expect(r.status).toBe(200);
      await new Promise((res) => setTimeout(res, 100));
      const got = upstream.all(mark).filter((f) => !(f.message.url ?? '').endsWith('/healthz'));
      expect(got.map((f) => `${f.message.method} ${f.message.url} ${f.message.body.toString('latin1')}`)).toEqual([`POST /h2-body ${smuggled}`]);
      expect(upstream.refused(mark)).toEqual([]);
    } finally {
      session.close();
    }
  });

  it('a body with a matching Content-Length goes up with that one Content-Length', async () => {
    const session = await h2Connect(tlsPort, ca.pem, 'replay.test');
    try {
      const mark = upstream.mark();
      const r = await h2Request(session, { ':method': 'POST', ':path': '/h2-cl', ':authority': 'replay.test', 'content-length': String(smuggled.length) }, Buffer.from(smuggled, 'latin1'));
      expect(r.status).toBe(200);
      await new Promise((res) => setTimeout(res, 100));
      const got = upstream.all(mark).filter((f) => !(f.message.url ?? '').endsWith('/healthz'));
      expect(got).toHaveLength(1);
      const headers = got[0]!.message.headers;
      expect(values(headers, 'content-length')).toEqual([String(smuggled.length)]);
      expect(values(headers, 'transfer-encoding')).toEqual([]);
      expect(got[0]!.message.body.toString('latin1')).toBe(smuggled);
    } finally {
      session.close();
    }
  });
});
