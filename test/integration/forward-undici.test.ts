import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { UndiciForwarder } from '../../src/proxy/forward-undici.js';
import type { Forwarder, WebJob } from '../../src/proxy/forwarder.js';
import type { Instance } from '../../src/runtime/runtime.js';
import { Upstream } from '../../src/upstream/upstream.js';

/**
 * The undici forwarder keeps a pool of its own per upstream: it must go when the upstream
 * does (Upstream.close), as the node:http Agent does, or every replaced version would leave
 * its keep-alive connections behind.
 */
let app: http.Server;
let appPort: number;
const open = new Set<net.Socket>();

beforeAll(async () => {
  app = http.createServer((_req, res) => res.end('ok'));
  app.keepAliveTimeout = 60_000; // longer than the test: only Baton may close these
  app.on('connection', (s: net.Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => app.close(() => r())));

function instance(port: number): Instance {
  return { version: 'v1', host: '127.0.0.1', port, id: 'test', exited: new Promise(() => {}), recentOutput: () => [], nativeHealth: async () => 'none', stop: async () => {}, survivesBaton: false };
}

/** A front server sending everything through `forwarder` to whatever `target()` names. */
async function front(forwarder: Forwarder, target: () => Upstream): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const upstream = target();
    const exchange = upstream.begin();
    res.once('close', () => exchange.finish());
    const job: WebJob = { req, res, target: upstream, headers: { ...req.headers }, exchange, requestId: 'r1', headersTimeoutMs: 5000, mayRetry: false };
    forwarder.web(job);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const until = async (cond: () => boolean, ms = 2000): Promise<boolean> => {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

describe('undici forwarder pools', () => {
  it('an upstream that closes takes its keep-alive connections with it', async () => {
    const upstream = new Upstream(instance(appPort));
    const f = await front(new UndiciForwarder({ onRetry: () => {}, onError: () => {} }), () => upstream);
    try {
      expect(await (await fetch(`${f.url}/a`)).text()).toBe('ok');
      expect(await until(() => open.size === 1)).toBe(true); // kept alive in the pool
      upstream.close();
      expect(await until(() => open.size === 0)).toBe(true);
    } finally {
      await f.close();
    }
  });

  it('the next upstream on the same address gets a new pool that works', async () => {
    let upstream = new Upstream(instance(appPort));
    const f = await front(new UndiciForwarder({ onRetry: () => {}, onError: () => {} }), () => upstream);
    try {
      expect((await fetch(`${f.url}/a`)).status).toBe(200);
      upstream.close();
      upstream = new Upstream(instance(appPort));
      expect(await (await fetch(`${f.url}/b`)).text()).toBe('ok');
      upstream.close();
      expect(await until(() => open.size === 0)).toBe(true);
    } finally {
      await f.close();
    }
  });
});
