import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import WebSocket from 'ws';
import { configYaml, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { rawExchange } from '../helpers/raw.js';

// One Baton with tight limits, in front of the counting app: it tells how many requests got through.
let baton: RunningBaton;
beforeAll(async () => {
  baton = await startBaton(
    configYaml(
      { web: { version: 'count1', extra: 'hold:\n  timeout: 2s' } },
      [
        'trusted_proxies: ["127.0.0.2"]',
        'limits:',
        '  headers_timeout: 1s',
        '  request_timeout: 2s',
        '  keep_alive_timeout: 500ms',
        '  max_header_size: 8192',
        '  max_headers_count: 50',
        '  max_body: 1kb',
        '  notice_sockets_per_client: 3',
        '',
      ].join('\n'),
    ),
  );
});
afterAll(async () => {
  await baton.stop();
  await removeDir(baton.dir);
});

async function forwarded(): Promise<number> {
  const res = await fetch(`${baton.url}/count`);
  return ((await res.json()) as { count: number }).count;
}

/** Runs `attempt` and checks the app saw no request from it. */
async function neverForwarded(attempt: () => Promise<unknown>): Promise<void> {
  const before = await forwarded();
  await attempt();
  expect(await forwarded()).toBe(before);
}

describe('timeouts on the public listener', () => {
  it('a client dribbling its headers (slowloris) is answered 408 and closed after headers_timeout', async () => {
    const pieces: Array<string | number> = ['GET / HTTP/1.1\r\nHost: x\r\n'];
    for (let i = 0; i < 20; i++) pieces.push(300, `X-Drip-${i}: 1\r\n`);
    const r = await rawExchange(baton.port, pieces, 8000);
    expect(r.closed).toBe(true);
    expect(r.reply).toMatch(/^HTTP\/1\.1 408/);
    expect(r.ms).toBeLessThan(3000);
  });

  it('a client dribbling its body is cut after request_timeout', async () => {
    const pieces: Array<string | number> = ['POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n'];
    for (let i = 0; i < 30; i++) pieces.push(200, 'a');
    const r = await rawExchange(baton.port, pieces, 8000);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(4500);
  });

  it('an idle keep-alive connection is closed after keep_alive_timeout', async () => {
    const r = await rawExchange(baton.port, ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'], 5000);
    expect(r.reply).toMatch(/^HTTP\/1\.1 200/);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThan(400);
    expect(r.ms).toBeLessThan(2500);
  });
});

describe('size limits', () => {
  it('headers larger than max_header_size get 431 and are not forwarded', async () => {
    await neverForwarded(async () => {
      const r = await rawExchange(baton.port, [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`]);
      expect(r.reply).toMatch(/^HTTP\/1\.1 431/);
    });
  });

  it('more header fields than max_headers_count get 431 and are not forwarded', async () => {
    const many = Array.from({ length: 60 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    await neverForwarded(async () => {
      const r = await rawExchange(baton.port, [`GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`]);
      expect(r.reply).toMatch(/^HTTP\/1\.1 431/);
    });
  });

  it('a Content-Length over max_body gets 413 and is not forwarded', async () => {
    await neverForwarded(async () => {
      const r = await rawExchange(baton.port, [`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n${'a'.repeat(2000)}`]);
      expect(r.reply).toMatch(/^HTTP\/1\.1 413/);
    });
  });

  it('a chunked body growing past max_body is answered 413', async () => {
    const chunk = 'a'.repeat(600);
    const r = await rawExchange(baton.port, [`POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n`, 100, `258\r\n${chunk}\r\n`, 100, '0\r\n\r\n']);
    expect(r.reply).toMatch(/^HTTP\/1\.1 413/);
  });

  it('a chunked body growing past max_body is answered 413 when node:http reads it too (Expect: 100-continue)', async () => {
    const chunk = 'a'.repeat(600);
    const r = await rawExchange(baton.port, [`POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n`, 100, `258\r\n${chunk}\r\n`, 100, `258\r\n${chunk}\r\n`, 100, '0\r\n\r\n']);
    expect(r.reply).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 413/);
  });

  it('a body within max_body goes through', async () => {
    const r = await rawExchange(baton.port, [`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nConnection: close\r\n\r\n${'a'.repeat(500)}`]);
    expect(r.reply).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('request smuggling', () => {
  const cases: Array<[string, string]> = [
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'],
    ['an obs-fold header line', 'GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n'],
    ['a bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['a Transfer-Encoding other than chunked last', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
    ['a space before the header colon', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nabcde'],
    ['a bare LF line ending in the request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n'],
  ];
  for (const [name, bytes] of cases) {
    it(`${name} is answered 400 and never forwarded`, async () => {
      await neverForwarded(async () => {
        const r = await rawExchange(baton.port, [bytes]);
        expect(r.reply).toMatch(/^HTTP\/1\.1 400/);
      });
    });
  }
});

describe('forwarded headers', () => {
  function xffSeen(localAddress: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: baton.port, path: '/x', localAddress, agent: false, headers: { 'x-forwarded-for': '203.0.113.9' } }, (res) => {
        res.resume();
        resolve(String(res.headers['x-seen-forwarded-for']));
      });
      req.on('error', reject);
    });
  }

  it('a client listed in trusted_proxies gets its X-Forwarded-For appended to', async () => {
    expect(await xffSeen('127.0.0.2')).toBe('203.0.113.9, 127.0.0.2');
  });

  it('any other client gets its X-Forwarded-For replaced', async () => {
    expect(await xffSeen('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('the notice socket', () => {
  function connect(): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(baton.url.replace('http', 'ws') + '/_baton/ws');
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  }

  it('is limited per client address', async () => {
    const open = [await connect(), await connect(), await connect()];
    await expect(connect()).rejects.toThrow(/429/);
    await Promise.all(open.map((ws) => new Promise((r) => (ws.once('close', r), ws.close()))));
    // Closing frees the slots.
    const again = await connect();
    again.close();
    await new Promise((r) => again.once('close', r));
  });

  it('ignores what browsers send, and closes on an oversized frame', async () => {
    const ws = await connect();
    ws.send('{"type":"deployed","version":"evil"}');
    await new Promise((r) => setTimeout(r, 100));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('x'.repeat(10_000));
    expect(await closed).toBe(1009);
  });
});
