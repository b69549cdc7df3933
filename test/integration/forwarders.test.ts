import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { configYaml, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';

/**
 * The corners of HTTP/1.1 forwarding through Baton's transport: upstream framings, connection
 * reuse and its races, backpressure both ways.
 * The app below is written to the test folder; each route exercises one behaviour.
 */
const APP = String.raw`
import http from 'node:http';
const served = new WeakMap(); // socket -> requests seen on it
let bigState = 'idle';
const server = http.createServer((req, res) => {
  const n = (served.get(req.socket) ?? 0) + 1;
  served.set(req.socket, n);
  const url = new URL(req.url, 'http://x');
  switch (url.pathname) {
    case '/healthz': return res.end('ok');
    case '/conn': return res.end(String(req.socket.remotePort));
    case '/chunked': {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-sum' });
      let i = 0;
      const tick = () => {
        if (i === 5) { res.addTrailers({ 'x-sum': '5' }); return res.end(); }
        res.write('part' + i++ + ';');
        setTimeout(tick, 5);
      };
      return tick();
    }
    case '/len': res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5000 }); return res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(5000));
    case '/status': { const code = Number(url.searchParams.get('code')); res.writeHead(code, { etag: '"e1"' }); return res.end(); }
    case '/close': res.writeHead(200, { connection: 'close', 'content-length': 6 }); return res.end('closed');
    case '/empty': res.writeHead(200, { 'content-length': 0, 'x-port': String(req.socket.remotePort) }); return res.end();
    case '/eof': return req.socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end of the connection');
    case '/bad': return req.socket.end('HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\nxx');
    case '/hints': res.writeEarlyHints({ link: '</a.css>; rel=preload' }); return res.end('after hints');
    case '/drop-reused': return n > 1 ? req.socket.destroy() : res.end('fresh');
    case '/big': {
      // 64 MiB: far more than the socket buffers on the way, so a paused client must stall us.
      bigState = 'writing';
      const chunk = Buffer.alloc(1 << 20, 97);
      let left = 64;
      const pump = () => {
        while (left > 0) { left--; if (!res.write(chunk)) return res.once('drain', pump); }
        res.end(); bigState = 'done';
      };
      res.writeHead(200, { 'content-length': 64 << 20 });
      return pump();
    }
    case '/big-state': return res.end(bigState);
    case '/slowread': {
      req.pause();
      return setTimeout(() => {
        let len = 0;
        req.on('data', (c) => (len += c.length));
        req.on('end', () => res.end(String(len)));
        req.resume();
      }, 600);
    }
    case '/early': res.writeHead(413, { 'content-length': 4 }); return res.end('nope');
    case '/echo': { const parts = []; req.on('data', (c) => parts.push(c)); return req.on('end', () => res.end(Buffer.concat(parts))); }
    default: res.writeHead(404); return res.end();
  }
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => process.exit(0));
`;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: Buffer;
}

function request(port: number, opts: { path: string; method?: string; agent?: http.Agent | false; body?: Buffer }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: opts.path, method: opts.method ?? 'GET', agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('forwarding corners', () => {
  let baton: RunningBaton;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'baton-fwd-'));
    await writeFile(path.join(dir, 'app.mjs'), APP);
    baton = await startBaton(configYaml({ web: { command: ['node', path.join(dir, 'app.mjs')] } }, 'limits:\n  upstream_headers_timeout: 2s\n'), { dir });
  });
  afterAll(async () => {
    await baton.stop();
    await removeDir(dir);
  });
  const get = (p: string, method = 'GET', agent: http.Agent | false = false): Promise<Answer> => request(baton.port, { path: p, method, agent });

  it('a chunked upstream body arrives whole, piece by piece', async () => {
    const r = await get('/chunked');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('part0;part1;part2;part3;part4;');
  });

  it('HEAD, 204 and 304 answers carry no body and leave the client connection usable', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const head = await get('/len', 'HEAD', agent);
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe('5000');
      expect(head.body.length).toBe(0);
      expect((await get('/status?code=204', 'GET', agent)).body.length).toBe(0);
      const notModified = await get('/status?code=304', 'GET', agent);
      expect(notModified.status).toBe(304);
      expect(notModified.headers.etag).toBe('"e1"');
      const after = await get('/len', 'GET', agent);
      expect(after.body.length).toBe(5000);
    } finally {
      agent.destroy();
    }
  });

  it('an answer with Content-Length: 0 ends with its head, and its connection carries the next request', async () => {
    const started = performance.now();
    const a = await get('/empty');
    const b = await get('/empty');
    expect([a.status, a.body.length, b.status]).toEqual([200, 0, 200]);
    expect(a.headers['x-port']).toBe(b.headers['x-port']);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('sequential requests reuse one upstream connection', async () => {
    const ports = new Set<string>();
    for (let i = 0; i < 10; i++) ports.add((await get('/conn')).body.toString());
    expect(ports.size).toBe(1);
  });

  it('an upstream Connection: close is honoured: the next request gets a new connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = (await get('/conn')).body.toString();
      const closed = await get('/close', 'GET', agent);
      expect(closed.body.toString()).toBe('closed');
      expect(closed.headers.connection).toBe('keep-alive'); // hop-by-hop: the client's own connection stays
      const r = await get('/conn', 'GET', agent);
      expect(r.status).toBe(200);
      expect(r.body.toString()).not.toBe(before);
    } finally {
      agent.destroy();
    }
  });

  it('a body delimited by the connection closing passes through whole', async () => {
    const r = await get('/eof');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('until the end of the connection');
  });

  it('a malformed response head is answered 502', async () => {
    const r = await get('/bad');
    expect(r.status).toBe(502);
    expect((await get('/conn')).status).toBe(200);
  });

  it('informational answers (103 Early Hints) are skipped for the final one', async () => {
    const r = await get('/hints');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('after hints');
  });

  it('a reused connection reset before any answer: a GET is retried, a POST with a body is not', async () => {
    // /drop-reused answers on a connection's first request and resets it on the next.
    expect((await get('/drop-reused')).body.toString()).toBe('fresh');
    const retried = await get('/drop-reused');
    expect(retried.status).toBe(200);
    expect(retried.body.toString()).toBe('fresh');
    const posted = await request(baton.port, { path: '/drop-reused', method: 'POST', body: Buffer.from('payload') });
    expect(posted.status).toBe(502);
  });

  it('a client that stops reading stalls the upstream (response backpressure), then gets every byte', async () => {
    const received = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: baton.port, path: '/big', agent: false }, (res) => {
        let n = 0;
        res.once('data', (c: Buffer) => {
          n += c.length;
          res.pause();
          setTimeout(async () => {
            try {
              // Paused for 700 ms: a proxy that buffers would have read all 64 MiB by now.
              expect((await get('/big-state')).body.toString()).toBe('writing');
            } catch (err) {
              reject(err);
            }
            res.on('data', (c2: Buffer) => (n += c2.length));
            res.resume();
          }, 700);
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    expect(received).toBe(64 << 20);
  });

  it('an app slow to read a large upload stalls the client (request backpressure)', async () => {
    const body = randomBytes(48 << 20);
    const started = performance.now();
    const { sentMs, reply } = await new Promise<{ sentMs: number; reply: string }>((resolve, reject) => {
      let sentMs = 0;
      const req = http.request({ host: '127.0.0.1', port: baton.port, path: '/slowread', method: 'POST', agent: false, headers: { 'content-length': body.length } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ sentMs, reply: text }));
      });
      req.on('finish', () => (sentMs = performance.now() - started));
      req.on('error', reject);
      req.end(body);
    });
    expect(reply).toBe(String(body.length));
    // The app reads nothing for 600 ms; a proxy that buffered the body would have let it all go.
    expect(sentMs).toBeGreaterThan(500);
  });

  it('an answer sent before the request body was read reaches the client, and the next request works', async () => {
    const r = await request(baton.port, { path: '/early', method: 'POST', body: randomBytes(256 * 1024) });
    expect(r.status).toBe(413);
    expect((await get('/conn')).status).toBe(200);
  });

  it('a chunked request body is forwarded intact', async () => {
    const parts = [randomBytes(1000), randomBytes(70_000), randomBytes(5)];
    const r = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: baton.port, path: '/echo', method: 'POST', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', reject);
      for (const p of parts) req.write(p); // no length: chunked
      req.end();
    });
    expect(Buffer.compare(r, Buffer.concat(parts))).toBe(0);
  });

  it('a client gone mid-response closes the upstream connection instead of returning it to the pool', async () => {
    await new Promise<void>((resolve) => {
      const socket = net.connect(baton.port, '127.0.0.1', () => socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
    });
    // Whatever connection carried /big must not serve this one with leftover bytes.
    for (let i = 0; i < 3; i++) expect((await get('/len')).body.length).toBe(5000);
  });
});
