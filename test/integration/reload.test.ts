import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { FIXTURE_APP, configYaml, dispose, startBaton, type RunningBaton } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';

/**
 * `reload` applies a new config file as a diff, under load: services added, a path service on a
 * shared host, a host changed, a service removed, an invalid file. Requests to unchanged routes
 * never fail and a WebSocket open on them stays open through every reload.
 */
let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

interface Answer {
  status: number;
  body: string;
  version?: string;
}

function send(port: number, host: string, path: string, opts: { method?: string; body?: Buffer; agent?: http.Agent | false } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: opts.agent ?? false, headers: { host, ...(opts.body ? { 'content-length': opts.body.length } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('latin1'), version: res.headers['x-app-version'] as string | undefined }));
      res.on('error', () => resolve({ status: -1, body: 'response error' }));
    });
    req.on('error', (err) => resolve({ status: -1, body: err.message }));
    req.end(opts.body);
  });
}

interface ReloadReport {
  ok: boolean;
  added: string[];
  removed: string[];
  changed: Array<{ service: string; now: string[]; next_deploy: string[] }>;
  unchanged: string[];
  ms: number;
}

async function reload(b: RunningBaton, yaml: string): Promise<{ status: number; body: ReloadReport & { error?: { code: string; message: string } } }> {
  await writeFile(b.configFile, yaml);
  const r = await control(b.socket, 'POST', '/v1/reload');
  return r as { status: number; body: ReloadReport & { error?: { code: string; message: string } } };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const WEB = { hosts: ['*'], extra: 'drain:\n  timeout: 5s\n  websocket_grace: 1s' };

describe('reload', () => {
  it('adds, changes and removes services under load without a failed request or a dropped WebSocket', async () => {
    baton = await startBaton(configYaml({ web: WEB }));
    const port = baton.port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const greeted = new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    let wsClosed = false;
    ws.on('close', () => (wsClosed = true));
    await greeted;

    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const failures: Answer[] = [];
    let requests = 0;
    let running = true;
    const load = Array.from({ length: 8 }, async (_, i) => {
      const stop = performance.now() + 60_000;
      while (running && performance.now() < stop) {
        const body = i % 2 === 0 ? randomBytes(512) : undefined;
        const r = await send(port, 'web.test', body ? '/echo' : '/version', { method: body ? 'POST' : 'GET', body, agent });
        requests++;
        if (r.status !== 200 || (body !== undefined && r.body !== body.toString('latin1'))) failures.push(r);
      }
    });
    const times: number[] = [];
    const applied: string[] = [];
    const step = async (yaml: string): Promise<ReloadReport> => {
      const started = performance.now();
      const r = await reload(baton!, yaml);
      times.push(performance.now() - started);
      applied.push(`${r.body.added?.length ? 'add' : r.body.removed?.length ? 'remove' : 'change'}:${r.body.ms}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };

    // 1. A new service, routed once healthy.
    const api = { hosts: ['api.test'], version: 'api1' };
    let report = await step(configYaml({ web: WEB, api }));
    expect(report).toMatchObject({ added: ['api'], removed: [], unchanged: ['web'] });
    expect(JSON.parse((await send(port, 'api.test', '/version')).body)).toEqual({ version: 'api1' });

    // 2. A path service on the shared host, its prefix stripped.
    const admin = { hosts: ['*'], version: 'admin1', extra: 'paths: [/admin]\nstrip_prefix: true\ndrain:\n  timeout: 5s\n  websocket_grace: 300ms' };
    report = await step(configYaml({ web: WEB, api, admin }));
    expect(report.added).toEqual(['admin']);
    const viaPrefix = await send(port, 'web.test', '/admin/version');
    expect(JSON.parse(viaPrefix.body)).toEqual({ version: 'admin1' });
    // Whole segments only: /administrator is not under /admin.
    expect((await send(port, 'web.test', '/administrator')).version).toBe('v1');
    // A WebSocket on the path service: untouched by the next reload (its route is unchanged),
    // closed with 1012 after its websocket_grace once the service is removed.
    const adminWs = new WebSocket(`ws://127.0.0.1:${port}/admin/ws`, { headers: { host: 'web.test' } });
    const adminClosed = new Promise<{ code: number; at: number }>((resolve) => adminWs.once('close', (code) => resolve({ code, at: performance.now() })));
    await new Promise<void>((resolve, reject) => {
      adminWs.once('message', () => resolve());
      adminWs.once('error', reject);
    });
    let adminClosedEarly = false;
    void adminClosed.then(() => (adminClosedEarly = true));

    // 3. A host changed: the old name now falls to the catch-all, the new one reaches api.
    report = await step(configYaml({ web: WEB, api: { ...api, hosts: ['api2.test'] }, admin }));
    expect(report.changed).toEqual([{ service: 'api', now: ['hosts'], next_deploy: [] }]);
    expect(JSON.parse((await send(port, 'api2.test', '/version')).body)).toEqual({ version: 'api1' });
    expect(JSON.parse((await send(port, 'api.test', '/version')).body)).toEqual({ version: 'v1' });

    expect(adminClosedEarly, 'a reload that did not touch admin closed its WebSocket').toBe(false);

    // 4. A service removed: its prefix goes back to the catch-all; its WebSocket gets 1012
    // after the grace, and its instance is stopped once drained.
    const adminPid = Number(((await control(baton.socket, 'GET', '/v1/status')).body as { services: { admin: { active: { id: string } } } }).services.admin.active.id);
    const removedAt = performance.now();
    report = await step(configYaml({ web: WEB, api: { ...api, hosts: ['api2.test'] } }));
    expect(report.removed).toEqual(['admin']);
    expect((await send(port, 'web.test', '/admin/version')).version).toBe('v1');
    const closed = await adminClosed;
    console.log(`[reload remove] admin websocket closed code=${closed.code} after_ms=${(closed.at - removedAt).toFixed(0)} (websocket_grace 300ms)`);
    expect(closed.code).toBe(1012);
    expect(closed.at - removedAt).toBeGreaterThanOrEqual(300 * 0.99);
    expect(Object.keys(((await control(baton.socket, 'GET', '/v1/status')).body as { services: object }).services).sort()).toEqual(['api', 'web']);
    const gone = performance.now() + 10_000;
    while (isRunning(adminPid) && performance.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(isRunning(adminPid), 'the removed service\'s instance is stopped').toBe(false);

    // 5. An invalid file changes nothing and says why, naming the key and line.
    const bad = await reload(baton, configYaml({ web: { ...WEB, health: 'interval: fast' } }));
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('CONFIG_INVALID');
    expect(bad.body.error?.message).toMatch(/services\.web\.health\.interval: expected a duration.*\(line \d+\)/);
    expect(JSON.parse((await send(port, 'api2.test', '/version')).body)).toEqual({ version: 'api1' });

    // The WebSocket on the unchanged route still echoes.
    const echoed = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
    ws.send('still here');
    expect(JSON.parse(await echoed)).toMatchObject({ echo: 'still here' });
    expect(wsClosed).toBe(false);
    ws.close();

    running = false;
    await Promise.all(load);
    agent.destroy();
    times.sort((a, b) => a - b);
    console.log(`[reload] requests=${requests} failures=${failures.length} reloads=${times.length} ms median=${times[Math.floor(times.length / 2)]!.toFixed(0)} max=${times.at(-1)!.toFixed(0)} applied_ms=${applied.join(',')}`);
    expect(failures.slice(0, 3)).toEqual([]);
    expect(requests).toBeGreaterThan(100);
  });

  it('a changed runtime setting keeps the running version until the next deploy, and says so', async () => {
    baton = await startBaton(configYaml({ web: WEB }));
    const before = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { active: { id: string } } } };
    const report = await reload(baton, configYaml({ web: { ...WEB, command: ['node', FIXTURE_APP, '--changed'] } }));
    expect(report.body.changed).toEqual([{ service: 'web', now: [], next_deploy: ['process'] }]);
    const after = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { active: { id: string } } } };
    expect(after.services.web.active.id).toBe(before.services.web.active.id);
    const deploy = await control(baton.socket, 'POST', '/v1/services/web/deploy', { version: 'v2' });
    expect(deploy.body).toMatchObject({ done: true, ok: true });
  });

  it('limits change in place: a smaller max_body applies to the next request', async () => {
    baton = await startBaton(configYaml({ web: WEB }));
    expect((await send(baton.port, 'web.test', '/echo', { method: 'POST', body: Buffer.alloc(2048, 97) })).status).toBe(200);
    const report = await reload(baton, configYaml({ web: WEB }, 'limits:\n  max_body: 1kb\n'));
    expect(report.body).toMatchObject({ global: ['limits'] });
    expect((await send(baton.port, 'web.test', '/echo', { method: 'POST', body: Buffer.alloc(2048, 97) })).status).toBe(413);
  });

  it('a smaller max_body applies to requests node:http reads too (Expect: 100-continue, a chunked body)', async () => {
    baton = await startBaton(configYaml({ web: WEB }));
    expect(await continuedPost(baton.port, 2048)).toBe(200);
    await reload(baton, configYaml({ web: WEB }, 'limits:\n  max_body: 1kb\n'));
    expect(await continuedPost(baton.port, 2048)).toBe(413);
    expect(await continuedPost(baton.port, 512)).toBe(200);
  });
});

/**
 * A chunked POST with Expect: 100-continue (which Baton's own parser leaves to node:http), on a
 * raw socket: the body goes once the 100 came; resolves with the final status.
 */
function continuedPost(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let seen = '';
    let sent = false;
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer in 10 s, got: ${JSON.stringify(seen)}`)));
    socket.on('error', reject);
    socket.write('POST /echo HTTP/1.1\r\nHost: web.test\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n');
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!sent && seen.startsWith('HTTP/1.1 100 ')) {
        sent = true;
        socket.write(`${bytes.toString(16)}\r\n${'a'.repeat(bytes)}\r\n0\r\n\r\n`);
      }
      const final = /HTTP\/1\.1 ([2-5]\d\d) /.exec(seen.replace(/^HTTP\/1\.1 100 [^\n]*\r\n\r\n/, ''));
      if (final !== null) {
        socket.destroy();
        resolve(Number(final[1]));
      }
    });
  });
}
