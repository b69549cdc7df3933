import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type net from 'node:net';
import pino from 'pino';
import { ProxyServer } from '../../src/proxy/server.js';
import { NoticeHub } from '../../src/notify/hub.js';
import { Service } from '../../src/service.js';
import { Release } from '../../src/upstream/release.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { parseConfig } from '../../src/config/load.js';
import type { Instance, Runtime } from '../../src/runtime/runtime.js';
import { freePort } from '../../src/runtime/free-port.js';

/**
 * The retry rule of the exchange, on real sockets: the service's release has a dead instance (a
 * port nothing listens on) listed first and a live one second, so a first attempt is refused
 * and a retry, which avoids the instance that failed, lands on the live one.
 */
let live: http.Server;
let livePort: number;
let deadPort: number;
let hits = 0;

beforeAll(async () => {
  live = http.createServer((req, res) => {
    hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${req.method} ${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
  livePort = (live.address() as net.AddressInfo).port;
  deadPort = await freePort();
});
afterAll(() => new Promise<void>((r) => live.close(() => r())));

function instance(port: number): Instance {
  return { version: 'v1', host: '127.0.0.1', port, id: String(port), exited: new Promise(() => {}), exitInfo: undefined, recentOutput: () => [], nativeHealth: async () => 'none', stop: async () => {}, survivesBaton: true };
}

const runtime: Runtime = { kind: 'process', start: () => Promise.reject(new Error('not here')), findRunning: async () => [] };

async function front(ports: number[]): Promise<{ url: string; retries: () => number; close: () => Promise<void> }> {
  const config = parseConfig('listen: 127.0.0.1:0\nservices:\n  web:\n    version: v1\n    process:\n      command: ["true"]\n', '<default>');
  const log = pino({ level: 'silent' });
  const service = new Service(config.services.web!, runtime, log);
  service.adopt(new Release('v1', ports.map((p) => new Upstream(instance(p)))), undefined);
  let retries = 0;
  const proxy = new ProxyServer({
    listen: config.listen,
    services: [service],
    limits: config.limits,
    trustedProxies: [],
    hub: new NoticeHub({ log }),
    log,
    observer: { upstreamError: (_s, kind) => void (kind === 'retry' && retries++) },
  });
  const bound = await proxy.listen();
  return {
    url: `http://127.0.0.1:${bound.port}`,
    retries: () => retries,
    close: async () => {
      const closed = proxy.stopAccepting();
      proxy.closeAll();
      await closed;
      for (const u of service.upstreams()) u.close();
    },
  };
}

describe('a refused connection', () => {
  it('is retried once, on another instance, for a request without a body', async () => {
    const f = await front([deadPort, livePort]);
    const before = hits;
    const res = await fetch(`${f.url}/x`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('GET ');
    expect(f.retries()).toBe(1);
    expect(hits - before).toBe(1);
    await f.close();
  });

  it('is retried for a POST whose body was not read yet, and the body arrives whole', async () => {
    const f = await front([deadPort, livePort]);
    const res = await fetch(`${f.url}/x`, { method: 'POST', body: 'payload-123' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('POST payload-123');
    expect(f.retries()).toBe(1);
    await f.close();
  });

  it('gets the client a 502 when no retry is left', async () => {
    const f = await front([deadPort]);
    const res = await fetch(`${f.url}/x`);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-baton-error')).toBe('bad_gateway');
    expect(f.retries()).toBe(1);
    await f.close();
  });
});
