import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { configYaml, dispose, startBaton, type RunningBaton } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';

/** Maintenance mode: every request of the service gets the maintenance answer (503), the health path aside, across restarts. */
let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

interface Answer {
  status: number;
  type: string | undefined;
  retryAfter: string | undefined;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], retryAfter: res.headers['retry-after'] as string | undefined, body }));
    });
    req.on('error', () => resolve({ status: -1, type: undefined, retryAfter: undefined, body: '' }));
  });
}

const maintenance = (b: RunningBaton, on: boolean, message = ''): Promise<{ status: number; body: unknown }> => control(b.socket, 'POST', '/v1/services/web/maintenance', { on, message });

describe('maintenance mode', () => {
  it('on: every request gets 503 with Retry-After (HTML for browsers, JSON on request), the health path still answers; off serves again, under load', async () => {
    baton = await startBaton(configYaml({ web: { extra: 'maintenance:\n  retry_after: 2m' } }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const results: Answer[] = [];
    let running = true;
    const load = Array.from({ length: 8 }, async () => {
      const stop = performance.now() + 20_000;
      while (running && performance.now() < stop) results.push(await get(baton!.port, '/version', {}, agent));
    });
    await new Promise((r) => setTimeout(r, 200));
    const on = await maintenance(baton, true, 'Back at 18:00 <b>sharp</b>');
    expect(on.body).toMatchObject({ service: 'web', maintenance: true, message: 'Back at 18:00 <b>sharp</b>', state: 'maintenance' });
    const page = await get(baton.port, '/anything', { accept: 'text/html' });
    expect(page).toMatchObject({ status: 503, retryAfter: '120', type: 'text/html; charset=utf-8' });
    expect(page.body).toContain('Back at 18:00 &#60;b&#62;sharp&#60;/b&#62;');
    expect(page.body).not.toContain('<b>sharp</b>');
    const json = await get(baton.port, '/api/x', { accept: 'application/json' });
    expect(json.status).toBe(503);
    expect(JSON.parse(json.body)).toEqual({ error: { code: 'MAINTENANCE', message: 'Back at 18:00 <b>sharp</b>' }, retry_after: 120 });
    expect((await get(baton.port, '/healthz')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    await maintenance(baton, false);
    await new Promise((r) => setTimeout(r, 200));
    running = false;
    await Promise.all(load);
    agent.destroy();
    expect((await get(baton.port, '/version')).status).toBe(200);
    // Under load: only 200s and 503s, each 503 a maintenance answer; nothing broken.
    expect(results.every((r) => r.status === 200 || (r.status === 503 && r.retryAfter === '120'))).toBe(true);
    expect(results.some((r) => r.status === 503)).toBe(true);
    expect(results.at(-1)!.status).toBe(200);
  });

  it("serves the service's own page, its {{message}} escaped, and tells browsers with a notice", async () => {
    const yaml = configYaml({ web: { extra: 'maintenance:\n  page: ./down.html' } });
    baton = await startBaton(yaml);
    await writeFile(path.join(baton.dir, 'down.html'), '<html><body><h1>Our own page</h1><p>{{message}}</p></body></html>');
    const ws = new WebSocket(`ws://127.0.0.1:${baton.port}/_baton/ws`);
    const notice = new Promise<Record<string, unknown>>((r) => ws.on('message', (d) => r(JSON.parse(String(d)) as Record<string, unknown>)));
    await new Promise((r) => ws.on('open', r));
    await maintenance(baton, true, 'a & b');
    expect(await notice).toMatchObject({ type: 'notice', service: 'web', message: 'a & b' });
    ws.close();
    const page = await get(baton.port, '/');
    expect(page.body).toBe('<html><body><h1>Our own page</h1><p>a &#38; b</p></body></html>');
  });

  it('survives a restart of Baton', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await maintenance(baton, true, 'upgrading the database');
    const dir = baton.dir;
    await baton.stop();
    baton = await startBaton(configYaml({ web: {} }), { dir });
    const page = await get(baton.port, '/');
    expect(page.status).toBe(503);
    expect(page.body).toContain('upgrading the database');
    const status = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { state: string; maintenance: { message: string } } } };
    expect(status.services.web).toMatchObject({ state: 'maintenance', maintenance: { message: 'upgrading the database' } });
    await maintenance(baton, false);
    expect((await get(baton.port, '/version')).status).toBe(200);
  });
});
