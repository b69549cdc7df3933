/**
 * The access log (issue 16) of a real Baton: the fields of a line, sampling and the query,
 * traceparent, the client behind a trusted proxy, WebSockets, SIGUSR1 after logrotate, a slow
 * destination, and a reload turning it on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { configYaml, dispose, startBaton, type RunningBaton } from '../helpers/baton.js';
import { linesOf, readLines } from '../helpers/access-fields.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

/** GETs of `url` over 4 keep-alive connections, counting the answers. */
function keepAliveGets(url: string): { one(): Promise<void>; readonly answered: number; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let answered = 0;
  return {
    one: () =>
      new Promise((resolve, reject) => {
        http
          .get(url, { agent }, (res) => {
            res.resume();
            res.on('end', () => {
              answered++;
              resolve();
            });
          })
          .on('error', reject);
      }),
    get answered() {
      return answered;
    },
    close: () => agent.destroy(),
  };
}

const accessLog = (extra = ''): string => `access_log:\n  path: ./access.log\n${extra}`;

describe('the access log', () => {
  it('writes one JSON line per request with the documented fields', async () => {
    baton = await startBaton(configYaml({ web: {} }, accessLog()));
    const file = path.join(baton.dir, 'access.log');
    const r = await get(`${baton.url}/version?secret=1`, { 'user-agent': 'tester/1.0' });
    expect(r.status).toBe(200);
    const [line] = await linesOf(file, 1);
    const status = JSON.parse((await baton.cli('status', '--json')).stdout) as { services: { web: { active: { address: string } } } };
    expect(line).toMatchObject({
      kind: 'http',
      service: 'web',
      host: `127.0.0.1:${baton.port}`,
      method: 'GET',
      path: '/version',
      status: 200,
      bytes_in: 0,
      bytes_out: Buffer.byteLength(r.body),
      version: 'v1',
      upstream: status.services.web.active.address,
      request_id: r.headers['x-request-id'],
      client: '127.0.0.1',
      user_agent: 'tester/1.0',
      protocol: 'http/1.1',
      tls: null,
      held_ms: 0,
      attempts: 1,
      outcome: 'ok',
    });
    expect(Date.parse(line!.time as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(line!.duration_ms).toBeGreaterThan(0);
    expect(line!.ttfb_ms).toBeGreaterThan(0);
    expect(line!.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // Baton's own log stays on stderr: the access log file holds only access lines.
    expect(baton.output()).not.toContain('"kind":"http"');
  });

  it('gives each line its own request\'s fields: capitalised names are read, nothing is left from the line before', async () => {
    baton = await startBaton(configYaml({ web: {} }, accessLog()));
    const file = path.join(baton.dir, 'access.log');
    expect((await get(`${baton.url}/version`, { 'User-Agent': 'Capital/2.0', 'X-Request-Id': 'client-id-1' })).status).toBe(200);
    const second = await get(`${baton.url}/version?again=1`);
    expect(second.status).toBe(200);
    const [first, next] = await linesOf(file, 2);
    expect(first).toMatchObject({ user_agent: 'Capital/2.0', request_id: 'client-id-1', path: '/version' });
    expect(next).toMatchObject({ user_agent: null, request_id: second.headers['x-request-id'], path: '/version' });
    expect(next!.request_id).not.toBe('client-id-1');
    expect(next!.traceparent).not.toBe(first!.traceparent);
  });

  it('keeps the query with include_query, and with sample 0 logs only what went wrong', async () => {
    baton = await startBaton(configYaml({ web: { hosts: ['app.test'] } }, accessLog('  sample: 0\n  include_query: true\n')));
    const file = path.join(baton.dir, 'access.log');
    for (let i = 0; i < 5; i++) expect((await get(`${baton.url}/version?i=${i}`, { host: 'app.test' })).status).toBe(200);
    expect((await get(`${baton.url}/nothing?q=1`, { host: 'other.test' })).status).toBe(404);
    const lines = await linesOf(file, 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await readLines(file)).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: null, host: 'other.test', path: '/nothing?q=1', status: 404, outcome: 'baton:no_route' });
  });

  it('forwards a valid traceparent unchanged, replaces a malformed one, and logs what the app got', async () => {
    baton = await startBaton(configYaml({ web: {} }, accessLog()));
    const file = path.join(baton.dir, 'access.log');
    const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const seen1 = JSON.parse((await get(`${baton.url}/headers`, { traceparent: valid, tracestate: 'k=v' })).body) as Record<string, string>;
    const seen2 = JSON.parse((await get(`${baton.url}/headers`, { traceparent: 'not-a-trace', tracestate: 'k=v' })).body) as Record<string, string>;
    expect(seen1.traceparent).toBe(valid);
    expect(seen1.tracestate).toBe('k=v');
    expect(seen2.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seen2.tracestate).toBeUndefined();
    const lines = await linesOf(file, 2);
    expect(lines.map((l) => l.traceparent)).toEqual([valid, seen2.traceparent]);
  });

  it('traceparent: forward passes on what came and generates none', async () => {
    baton = await startBaton(configYaml({ web: {} }, 'traceparent: forward\n'));
    const none = JSON.parse((await get(`${baton.url}/headers`)).body) as Record<string, string>;
    const bad = JSON.parse((await get(`${baton.url}/headers`, { traceparent: 'not-a-trace' })).body) as Record<string, string>;
    expect(none.traceparent).toBeUndefined();
    expect(bad.traceparent).toBe('not-a-trace');
  });

  it('names the client behind a trusted proxy (the rightmost untrusted X-Forwarded-For entry)', async () => {
    baton = await startBaton(configYaml({ web: {} }, `trusted_proxies: ["127.0.0.1", "10.0.0.9"]\n${accessLog()}`));
    const file = path.join(baton.dir, 'access.log');
    await get(`${baton.url}/version`, { 'x-forwarded-for': '198.51.100.1, 203.0.113.5, 10.0.0.9' });
    const [line] = await linesOf(file, 1);
    expect(line!.client).toBe('203.0.113.5');
  });

  it('writes a WebSocket line when it ends, with its bytes and duration', async () => {
    baton = await startBaton(configYaml({ web: {} }, accessLog()));
    const file = path.join(baton.dir, 'access.log');
    const ws = new WebSocket(`ws://127.0.0.1:${baton.port}/ws`);
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    ws.send('hello');
    await new Promise((r) => ws.once('message', r));
    expect(await readLines(file)).toHaveLength(0); // not while it is open
    ws.close();
    const [line] = await linesOf(file, 1);
    expect(line).toMatchObject({ kind: 'websocket', service: 'web', path: '/ws', status: 101, outcome: 'ok', version: 'v1' });
    expect(line!.bytes_in).toBeGreaterThan(0);
    expect(line!.bytes_out).toBeGreaterThan(0);
    expect(line!.duration_ms).toBeGreaterThan(0);
  });

  it('reopens the file on SIGUSR1 after logrotate moved it, losing no line', async () => {
    baton = await startBaton(configYaml({ web: {} }, accessLog()));
    const file = path.join(baton.dir, 'access.log');
    const gets = keepAliveGets(`${baton.url}/version`);
    const worker = async (k: number): Promise<void> => {
      for (let i = 0; i < k; i++) await gets.one();
    };
    const loading = Promise.all([worker(150), worker(150), worker(150), worker(150)]);
    // Rotate in the middle of the load, as logrotate's postrotate would.
    while (gets.answered < 200) await new Promise((r) => setTimeout(r, 5));
    await rename(file, `${file}.1`);
    baton.proc.kill('SIGUSR1');
    await loading;
    gets.close();
    const after = await linesOf(file, 1);
    const total = async (): Promise<number> => (await readLines(`${file}.1`)).length + (await readLines(file)).length;
    const until = Date.now() + 5000;
    while ((await total()) < 600 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(after.length).toBeGreaterThan(0);
    expect(await total()).toBe(600);
  });

  it('drops and counts lines when the destination is too slow, without slowing requests', async () => {
    // A FIFO nobody reads: the first 64 KiB fill the pipe, the write after that blocks, the buffer fills.
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    const fifo = path.join(dir, 'slow.log');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const drain = (): void => {
      const buf = Buffer.alloc(65536);
      for (;;) {
        try {
          if (readSync(reader, buf) <= 0) return;
        } catch {
          return; // EAGAIN: empty for now
        }
      }
    };
    try {
      baton = await startBaton(configYaml({ web: {} }, 'access_log:\n  path: ./slow.log\n  buffer: 4kb\n'), { dir });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const times: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 100; i++) {
            const began = performance.now();
            await new Promise<void>((resolve, reject) =>
              http
                .get(`${baton!.url}/version`, { agent }, (res) => {
                  expect(res.statusCode).toBe(200);
                  res.resume();
                  res.on('end', () => resolve());
                })
                .on('error', reject),
            );
            times.push(performance.now() - began);
          }
        }),
      );
      agent.destroy();
      const metrics = await new Promise<string>((resolve, reject) => {
        http
          .get({ socketPath: baton!.socket, path: '/metrics' }, (res) => {
            let t = '';
            res.on('data', (c) => (t += c));
            res.on('end', () => resolve(t));
          })
          .on('error', reject);
      });
      const dropped = Number(/^baton_access_log_dropped_total (\d+)/m.exec(metrics)?.[1]);
      const lines = Number(/^baton_access_log_lines_total (\d+)/m.exec(metrics)?.[1]);
      times.sort((a, b) => a - b);
      console.log(`slow destination: ${dropped} of ${lines} lines dropped; request p50 ${times[400]!.toFixed(2)} ms, p99 ${times[792]!.toFixed(2)} ms`);
      expect(lines).toBe(800);
      expect(dropped).toBeGreaterThan(0);
      expect(times[400]).toBeLessThan(50);
      expect(baton.output()).toContain('access log lines dropped');
    } finally {
      // Let the blocked write finish so Baton can stop.
      const stopping = dispose(baton);
      baton = undefined;
      const until = Date.now() + 30_000;
      let done = false;
      void stopping.finally(() => (done = true));
      while (!done && Date.now() < until) {
        drain();
        await new Promise((r) => setTimeout(r, 20));
      }
      await stopping;
      closeSync(reader);
    }
  });

  it('writes every line at a stop, those gathered in its last 100 ms too', async () => {
    baton = await startBaton(configYaml({ web: {} }, accessLog()));
    const file = path.join(baton.dir, 'access.log');
    const gets = keepAliveGets(`${baton.url}/version`);
    // Lines of the first second go out with their batches; those just before the stop only with it.
    const until = performance.now() + 1000;
    const worker = async (): Promise<void> => {
      while (performance.now() < until) await gets.one();
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    gets.close();
    expect(await baton.stop()).toBe(0);
    expect((await readLines(file)).length).toBe(gets.answered);
  });

  it('a reload turns it on (reported as applied) and off', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const file = path.join(baton.dir, 'access.log');
    await get(`${baton.url}/version`);
    await writeFile(baton.configFile, configYaml({ web: {} }, accessLog()));
    const on = await baton.cli('reload', '--json');
    expect(on.code).toBe(0);
    expect((JSON.parse(on.stdout) as { global: string[] }).global).toContain('access_log');
    await get(`${baton.url}/version`);
    expect(await linesOf(file, 1)).toHaveLength(1);
    await writeFile(baton.configFile, configYaml({ web: {} }));
    expect((await baton.cli('reload')).code).toBe(0);
    await get(`${baton.url}/version`);
    await new Promise((r) => setTimeout(r, 200));
    expect(await readLines(file)).toHaveLength(1);
  });
});
