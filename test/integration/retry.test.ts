import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { NodeForwarder } from '../../src/proxy/forward-node.js';
import { NetForwarder } from '../../src/proxy/forward-net.js';
import { HttpProxy3Forwarder } from '../../src/proxy/forward-http-proxy3.js';
import { UndiciForwarder } from '../../src/proxy/forward-undici.js';
import type { Forwarder, ForwarderHooks, WebJob } from '../../src/proxy/forwarder.js';
import { Exchange } from '../../src/upstream/exchange.js';
import { freePort } from '../../src/runtime/free-port.js';

// A live upstream that echoes what it got, and a port nothing listens on.
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

/**
 * A front server whose every request goes first to the dead port; a retry goes to the live one
 * (as the proxy sends a retry to the service's current upstream).
 */
async function front(make: (hooks: ForwarderHooks) => Forwarder, allowRetry: boolean): Promise<{ url: string; retries: () => number; close: () => Promise<void> }> {
  let retries = 0;
  const agent = new http.Agent({ keepAlive: true });
  const job = (req: http.IncomingMessage, res: http.ServerResponse, port: number, mayRetry: boolean): WebJob => {
    const exchange = new Exchange(() => {});
    res.once('close', () => exchange.finish());
    return { req, res, target: { host: '127.0.0.1', port, agent }, headers: { ...req.headers }, exchange, requestId: 'r1', headersTimeoutMs: 5000, mayRetry };
  };
  const forwarder = make({
    onRetry: (j) => {
      retries++;
      forwarder.web(job(j.req, j.res, livePort, false));
    },
    onError: () => {},
  });
  const server = http.createServer((req, res) => forwarder.web(job(req, res, deadPort, allowRetry)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    retries: () => retries,
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const forwarders: Array<[string, (h: ForwarderHooks) => Forwarder, boolean]> = [
  ['node', (h) => new NodeForwarder(h), true],
  ['net', (h) => new NetForwarder(h), true],
  ['http-proxy-3', (h) => new HttpProxy3Forwarder(h), false],
  // undici is handed the body stream itself: as with http-proxy-3, only bodiless requests are retried.
  ['undici', (h) => new UndiciForwarder(h), false],
];

describe.each(forwarders)('%s forwarder: a refused connection', (_name, make, retriesBodies) => {
  it('is retried once, on the current upstream, for a request without a body', async () => {
    const f = await front(make, true);
    const before = hits;
    const res = await fetch(`${f.url}/x`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('GET ');
    expect(f.retries()).toBe(1);
    expect(hits - before).toBe(1);
    await f.close();
  });

  it(`is ${retriesBodies ? '' : 'not '}retried for a POST whose body was not read yet, and the body arrives whole`, async () => {
    const f = await front(make, true);
    const res = await fetch(`${f.url}/x`, { method: 'POST', body: 'payload-123' });
    if (retriesBodies) {
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('POST payload-123');
      expect(f.retries()).toBe(1);
    } else {
      expect(res.status).toBe(502);
      expect(f.retries()).toBe(0);
    }
    await f.close();
  });

  it('gets the client a 502 when no retry is left', async () => {
    const f = await front(make, false);
    const res = await fetch(`${f.url}/x`);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-baton-error')).toBe('bad_gateway');
    expect(f.retries()).toBe(0);
    await f.close();
  });
});
