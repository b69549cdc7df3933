import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { configYaml, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';

let baton: RunningBaton;
beforeAll(async () => {
  baton = await startBaton(
    configYaml(
      {
        web: { hosts: ['*'] },
        api: { hosts: ['api.example.test', '*.api.example.test'], version: 'api1' },
      },
      'limits:\n  upstream_headers_timeout: 400ms\n',
    ),
  );
});
afterAll(async () => {
  await baton.stop();
  await removeDir(baton.dir);
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: baton.port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('routing', () => {
  it('routes by exact Host to its service', async () => {
    const r = await get('/version', { host: 'api.example.test' });
    expect(JSON.parse(r.body.toString())).toEqual({ version: 'api1' });
  });

  it('routes a subdomain to the service of its wildcard pattern', async () => {
    const r = await get('/version', { host: 'x.y.api.example.test:8080' });
    expect(JSON.parse(r.body.toString())).toEqual({ version: 'api1' });
  });

  it('routes other hosts to the catch-all service', async () => {
    const r = await get('/version', { host: 'elsewhere.test' });
    expect(JSON.parse(r.body.toString())).toEqual({ version: 'v1' });
  });

  it('answers 404 with a short body when no service matches', async () => {
    const only = await startBaton(configYaml({ web: { hosts: ['only.test'] } }));
    try {
      const res = await fetch(`${only.url}/version`, { headers: { host: 'other.test' } });
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(text.length).toBeLessThan(100);
      expect(res.headers.get('x-baton-error')).toBe('no_route');
    } finally {
      await only.stop();
      await removeDir(only.dir);
    }
  });
});

describe('forwarding', () => {
  it('adds X-Forwarded-For/-Proto/-Host and replaces a client-sent X-Forwarded-For', async () => {
    const r = await get('/headers', { host: 'shop.test', 'x-forwarded-for': '6.6.6.6' });
    const seen = JSON.parse(r.body.toString());
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('shop.test');
    expect(seen.host).toBe('shop.test');
  });

  it('generates an X-Request-Id, and keeps one the client sent', async () => {
    const fresh = await get('/headers');
    const id = JSON.parse(fresh.body.toString())['x-request-id'];
    expect(id).toMatch(/^[0-9a-f]+-[0-9a-z]+$/);
    expect(fresh.headers['x-request-id']).toBe(id);
    const kept = await get('/headers', { 'x-request-id': 'abc-123' });
    expect(JSON.parse(kept.body.toString())['x-request-id']).toBe('abc-123');
  });

  it('strips hop-by-hop headers, including those named in Connection', async () => {
    const r = await get('/headers', { connection: 'keep-alive, x-secret', 'x-secret': 'drop me', 'x-kept': 'yes', te: 'trailers' });
    const seen = JSON.parse(r.body.toString());
    expect(seen['x-secret']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['x-kept']).toBe('yes');
  });

  it('streams a 4 MB POST body and its echo byte for byte', async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const r = await get('/echo', { 'content-type': 'application/octet-stream' }, 'POST', body);
    expect(r.status).toBe(200);
    expect(Buffer.compare(r.body, body)).toBe(0);
  });

  it('serves many requests over one keep-alive connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: baton.port, path: '/version', agent }, (res) => {
          ports.add(res.socket.localPort!);
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
      });
    }
    agent.destroy();
    expect(ports.size).toBe(1);
  });

  it('passes server-sent events through as they are sent, unbuffered', async () => {
    const started = Date.now();
    const first = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: baton.port, path: '/events', agent: false }, (res) => {
        expect(res.headers['content-type']).toContain('text/event-stream');
        res.setEncoding('utf8');
        let text = '';
        res.on('data', (chunk: string) => {
          text += chunk;
          if (!text.includes('data: ')) return;
          resolve(text);
          req.destroy();
        });
      });
      req.on('error', reject);
    });
    expect(first).toMatch(/data: /);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('answers 504 when the app is slower than upstream_headers_timeout', async () => {
    const started = Date.now();
    const r = await get('/slow?ms=3000');
    expect(r.status).toBe(504);
    expect(r.headers['x-baton-error']).toBe('gateway_timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('answers malformed HTTP with 400 and never forwards it', async () => {
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(baton.port, '127.0.0.1', () => s.write('GET /version HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
      let out = '';
      s.on('data', (c) => (out += c.toString()));
      s.on('close', () => resolve(out));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
  });

  it('serves the browser client script at /_baton/client.js', async () => {
    const res = await fetch(`${baton.url}/_baton/client.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('javascript');
    expect(await res.text()).toContain('/_baton/ws');
  });

  it('answers 404 for other /_baton/ paths without reaching the app', async () => {
    for (const path of ['/_baton/../client.js', '/_baton/client.js/../../etc/passwd', '/_baton/ws.js', '/_baton/']) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.headers['x-app-version'], path).toBeUndefined();
    }
  });
});
