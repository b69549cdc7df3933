import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import { ROOT, configYaml, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { rawExchange } from '../helpers/raw.js';

/**
 * Issue 17's findings, each on a raw socket: a request smuggled past Baton through `Connection`,
 * another client's request hijacked through the pool, upgrade smuggling, answers the plain path
 * refuses, and heads refused at once rather than at headers_timeout. Two apps: a node:http one
 * that records every request llhttp parsed out of what Baton sent (`llhttp.test`), and a raw one
 * that answers with scripted bytes (`raw.test`).
 */
const LOGGING_APP = path.join(ROOT, 'test/fixtures/logging-app.js');
const RAW_APP = path.join(ROOT, 'test/fixtures/raw-app.js');

let baton: RunningBaton;
beforeAll(async () => {
  baton = await startBaton(
    configYaml({
      app: { hosts: ['llhttp.test'], command: ['node', LOGGING_APP] },
      raw: { hosts: ['raw.test'], command: ['node', RAW_APP] },
      web: { hosts: ['*'] },
    }),
  );
});
afterAll(async () => {
  await baton.stop();
  await removeDir(baton.dir);
});

interface Seen {
  method: string;
  url: string;
  host: string | null;
  headers: string[];
  body: string;
  cookie: string | null;
  upgrade?: boolean;
  afterRefusal?: boolean;
}

/** GET through Baton with a Host of our choosing (fetch cannot set Host). */
function get(host: string, target: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: baton.port, path: target, agent: false, headers: { ...headers, host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

async function seen(): Promise<Seen[]> {
  return JSON.parse(await get('llhttp.test', '/__log')) as Seen[];
}

/** What the app recorded during `attempt`. */
async function recorded(attempt: () => Promise<unknown>): Promise<Seen[]> {
  const before = (await seen()).length;
  await attempt();
  await new Promise((r) => setTimeout(r, 100));
  return (await seen()).slice(before);
}

/** The raw answers on one connection, split by their heads (Content-Length bodies only). */
function statuses(reply: string): number[] {
  return [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

describe('critical: framing fields named in Connection', () => {
  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: llhttp.test\r\n\r\n';
  const post = (connection: string[]): string =>
    `POST /a HTTP/1.1\r\nHost: llhttp.test\r\n${connection.map((c) => `Connection: ${c}\r\n`).join('')}Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`;

  it.each([[['content-length']], [['keep-alive, Content-Length']], [['keep-alive', 'content-length']]])(
    'Connection: %s forwards one POST with its body, never a second request',
    async (connection) => {
      const got = await recorded(() => rawExchange(baton.port, [post(connection)], 1500));
      expect(got.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /a']);
      expect(got[0]!.body).toBe(smuggled);
    },
  );

  it.each([['transfer-encoding'], ['close, transfer-encoding']])('Connection: %s with a chunked body forwards the body as a body', async (connection) => {
    const body = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const wire = `POST /a HTTP/1.1\r\nHost: llhttp.test\r\nConnection: ${connection}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
    const got = await recorded(() => rawExchange(baton.port, [wire], 1500));
    expect(got.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /a']);
    expect(got[0]!.body).toBe(smuggled);
  });

  it("an attacker's body holding an unfinished head never completes with another client's request", async () => {
    const bait = 'GET /attacker-chosen HTTP/1.1\r\nHost: llhttp.test\r\nX-Swallow: ';
    const attack = `POST /a HTTP/1.1\r\nHost: llhttp.test\r\nConnection: content-length\r\nContent-Length: ${bait.length}\r\n\r\n${bait}`;
    const got = await recorded(async () => {
      await rawExchange(baton.port, [attack], 1000);
      // The victim, on a connection of its own, with its cookie.
      expect(await get('llhttp.test', '/victim', { cookie: 'session=victim' })).toBe('GET /victim 0');
    });
    expect(got.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /a', 'GET /victim']);
    expect(got.find((s) => s.url === '/attacker-chosen')).toBeUndefined();
  });
});

describe('medium', () => {
  it('Connection: host does not drop Host: the app gets the one Baton routed on', async () => {
    const got = await recorded(() => rawExchange(baton.port, ['GET /h HTTP/1.1\r\nHost: llhttp.test\r\nConnection: host\r\n\r\n'], 1000));
    expect(got[0]!.host).toBe('llhttp.test');
  });

  it('an HTTP/1.0 request without Host reaches the app with a Host', async () => {
    // Routed to the catch-all (the fixture app): its answer says what Host it got.
    const r = await rawExchange(baton.port, ['GET /headers HTTP/1.0\r\n\r\n'], 2000);
    expect(r.reply).toMatch(/^HTTP\/1\.[01] 200/);
    expect(r.reply).toContain(`"host":"127.0.0.1:${baton.port}"`);
  });

  it('bytes behind an upgrade request wait for the 101: an app that refuses never sees them', async () => {
    const upgrade =
      'GET /refuse HTTP/1.1\r\nHost: llhttp.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const pipelined = 'GET /pipelined HTTP/1.1\r\nHost: llhttp.test\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';
    const got = await recorded(async () => {
      const r = await rawExchange(baton.port, [upgrade + pipelined], 1500);
      expect(r.reply).toMatch(/^HTTP\/1\.1 403/);
    });
    expect(got.filter((s) => s.afterRefusal)).toEqual([]);
  });

  it.each([
    ['Content-Length continued on an obs-fold line', '/cl-fold'],
    ['Transfer-Encoding continued on an obs-fold line', '/te-fold'],
    ['Transfer-Encoding: chunked continued by an obs-fold line', '/te-fold-abc'],
    ['a head with bare LF line ends', '/lf-head'],
    ['a head over 64 KiB that arrives in one read', '/huge-head'],
  ])('an answer with %s is refused with 502, at once', async (_what, target) => {
    const r = await rawExchange(baton.port, [`GET ${target} HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n`], 3000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 502/);
    expect(r.ms).toBeLessThan(2000);
  });

  it.each([
    ['a bare LF hiding a Set-Cookie', '/upgrade-lf-cookie'],
    ['a NUL in a field value', '/upgrade-nul'],
    ['a space before a colon', '/upgrade-space-colon'],
  ])('an answer to an upgrade with %s is refused with 502, never relayed', async (_what, target) => {
    const handshake = `GET ${target} HTTP/1.1\r\nHost: raw.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    const r = await rawExchange(baton.port, [handshake], 3000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 502/);
    expect(r.reply).not.toContain('attacker');
    expect(r.reply).not.toContain('403');
  });

  it('bytes an app sends on an idle pooled connection discard it: the next request gets its own answer', async () => {
    const first = await rawExchange(baton.port, ['GET /poison-late HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n'], 2000);
    expect(first.reply.endsWith('hello')).toBe(true);
    // The unsolicited answer arrives 150 ms after the first one ended, while its connection is idle in the pool.
    await new Promise((r) => setTimeout(r, 400));
    const next = await rawExchange(baton.port, ['GET /plain HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n'], 2000);
    expect(next.reply).toMatch(/^HTTP\/1\.1 200/);
    expect(next.reply).not.toContain('poison');
    expect(next.reply.endsWith('plain')).toBe(true);
  });

  it.each(['/poison-length', '/poison-chunked', '/poison-204', '/poison-304'])('bytes an app sends behind its answer (%s) never become the next request\'s answer', async (target) => {
    const r = await rawExchange(baton.port, [`GET ${target} HTTP/1.1\r\nHost: raw.test\r\n\r\nGET /plain HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n`], 3000);
    expect(r.reply).not.toContain('poison');
    expect(r.reply.endsWith('plain')).toBe(true);
  });

  it('a body an app sends to HEAD never becomes the next request\'s answer', async () => {
    const r = await rawExchange(baton.port, ['HEAD /poison-head HTTP/1.1\r\nHost: raw.test\r\n\r\nGET /plain HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n'], 3000);
    expect(statuses(r.reply)).toEqual([200, 200]);
    expect(r.reply.endsWith('plain')).toBe(true);
  });
});

describe('low', () => {
  it('a duplicated identical Content-Length reaches the client once', async () => {
    const r = await rawExchange(baton.port, ['GET /cl-dup HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n'], 2000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 200/);
    expect(r.reply.match(/content-length:/gi)).toHaveLength(1);
  });

  it.each(['/chunk-space', '/chunk-junk', '/chunk-empty-ext', '/chunk-nul-ext', '/chunk-trailer-response'])('a lenient chunked answer (%s) is cut, never passed on', async (target) => {
    const r = await rawExchange(baton.port, [`GET ${target} HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n`], 2000);
    expect(r.closed).toBe(true);
    // Either refused before anything went out, or cut without the last chunk (the client sees it broken).
    if (!r.reply.startsWith('HTTP/1.1 502')) expect(r.reply).not.toContain('\r\n0\r\n\r\n');
    expect(r.reply).not.toContain('poison');
  });

  it('transfer codings other than chunked reach the client with the answer', async () => {
    const r = await rawExchange(baton.port, ['GET /gzip-chunked HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n'], 2000);
    expect(r.reply).toMatch(/\r\ntransfer-encoding: gzip, chunked\r\n/i);
    expect(r.reply).toContain('\r\n4\r\nGZIP\r\n0\r\n\r\n');
  });

  it.each([
    ['a bare LF line end', 'GET / HTTP/1.1\nHost: x\n\n'],
    ['conflicting Content-Lengths before the head ends', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n'],
    ['a TLS ClientHello on the plain port', Buffer.from('16030100a5010000a10303', 'hex')],
    ['a NUL in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n'],
    ['a space before a colon', 'GET / HTTP/1.1\r\nHost : x\r\n'],
  ])('%s is refused at once, not at headers_timeout', async (_what, wire) => {
    const r = await rawExchange(baton.port, [wire], 5000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 400/);
    expect(r.ms).toBeLessThan(1500);
  });

  it('an RTSP request is refused, not forwarded as HTTP/1.1', async () => {
    const got = await recorded(async () => {
      const r = await rawExchange(baton.port, ['ANNOUNCE rtsp://llhttp.test/a RTSP/1.0\r\nCSeq: 1\r\nHost: llhttp.test\r\n\r\n'], 2000);
      expect(r.reply).toMatch(/^HTTP\/1\.1 (400|505)/);
    });
    expect(got).toEqual([]);
  });

  it('an RTSP request pipelined on a connection node:http reads is refused too', async () => {
    // Expect declines the connection to node:http, whose llhttp takes RTSP/1.0.
    const first = 'POST /first HTTP/1.1\r\nHost: llhttp.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi';
    const got = await recorded(async () => {
      const r = await rawExchange(baton.port, [first + 'ANNOUNCE rtsp://llhttp.test/a RTSP/1.0\r\nCSeq: 1\r\nHost: llhttp.test\r\n\r\n'], 2000);
      // node:http's llhttp refuses it (400) where Baton's own parser answers 505: refused either way.
      const [answer, refusal] = statuses(r.reply).filter((s) => s !== 100);
      expect(answer).toBe(200);
      expect([400, 505]).toContain(refusal);
    });
    expect(got.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /first']);
  });

  it('an absolute-form target is routed by its own authority, over Host', async () => {
    const got = await recorded(() => rawExchange(baton.port, ['GET http://llhttp.test/abs?q=1 HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n'], 1500));
    expect(got.map((s) => [s.url, s.host])).toEqual([['/abs?q=1', 'llhttp.test']]);
  });

  it('header names with an underscore are not forwarded (Content_Length among them)', async () => {
    const got = await recorded(() => rawExchange(baton.port, ['GET /u HTTP/1.1\r\nHost: llhttp.test\r\nContent_Length: 5\r\nX_Api_Key: k\r\nConnection: close\r\n\r\n'], 1500));
    expect(got[0]!.headers.map((h) => h.toLowerCase())).not.toContain('content_length');
    expect(got[0]!.headers.map((h) => h.toLowerCase())).not.toContain('x_api_key');
  });
});
