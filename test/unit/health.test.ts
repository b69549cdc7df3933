import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitHealthy } from '../../src/upstream/health.js';
import type { Instance } from '../../src/runtime/runtime.js';
import type { HealthConfig } from '../../src/config/types.js';

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
  server = undefined;
});

/** An app on a real socket whose /healthz answers `status`, after `delayMs`. */
async function app(status: (n: number) => number, delayMs: (n: number) => number = () => 0): Promise<Instance> {
  let n = 0;
  server = http.createServer((_req, res) => {
    const i = n++;
    setTimeout(() => {
      res.writeHead(status(i));
      res.end();
    }, delayMs(i));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    version: 'v2',
    host: '127.0.0.1',
    port,
    id: 'test',
    exited: new Promise(() => {}),
    survivesBaton: false,
    recentOutput: () => [],
    nativeHealth: async () => 'none',
    stop: async () => {},
  };
}

const health = (over: Partial<HealthConfig>): HealthConfig => ({ path: '/healthz', intervalMs: 20, timeoutMs: 1000, deadlineMs: 1000, healthyThreshold: 1, ...over });

describe('waitHealthy', () => {
  it('is healthy after healthy_threshold consecutive 2xx', async () => {
    const instance = await app((n) => (n < 2 ? 503 : 200));
    const r = await waitHealthy(instance, health({ healthyThreshold: 2 }));
    expect(r).toMatchObject({ ok: true, probes: 4 });
  });

  it('fails at the deadline naming the last real answer, not a probe cut short by the deadline', async () => {
    // Answers 503 at once, then takes longer than the time left before the deadline.
    const instance = await app(() => 503, (n) => (n === 0 ? 0 : 400));
    const r = await waitHealthy(instance, health({ deadlineMs: 300, timeoutMs: 1000 }));
    expect(r).toMatchObject({ ok: false, reason: 'deadline', lastStatus: 'HTTP 503' });
  });
});
