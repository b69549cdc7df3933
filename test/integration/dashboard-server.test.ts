/**
 * `baton dashboard`'s server (issue 16) without a browser: the one-time token, the session
 * cookie, the Host check, read-only GETs under /dashboard/ only, and the page's routes on the
 * control socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { CLI, configYaml, dispose, runCli, startBaton, stopProcess, type RunningBaton } from '../helpers/baton.js';

let baton: RunningBaton;
let dash: ChildProcess;
let url: URL;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(target: { port: number } | { socketPath: string }, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const where = 'port' in target ? { host: '127.0.0.1', port: target.port } : target;
    const req = http.request({ ...where, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  baton = await startBaton(configYaml({ web: {} }));
  dash = spawn(process.execPath, [CLI, 'dashboard', '--socket', baton.socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: dash.stdout! }).once('line', resolve);
    dash.once('exit', (code) => reject(new Error(`baton dashboard exited with ${code}`)));
  });
  url = new URL(line);
}, 60_000);

afterAll(async () => {
  if (dash !== undefined) await stopProcess(dash);
  await dispose(baton);
});

describe('baton dashboard', () => {
  it('prints a URL on 127.0.0.1 with a random port and a one-time token', () => {
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(url.pathname).toBe('/dashboard/');
    expect(url.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('trades the token once for a session cookie; the page and its API then answer to the cookie only', async () => {
    const port = Number(url.port);
    const host = { host: `127.0.0.1:${port}` };
    expect((await request({ port }, 'GET', '/dashboard/', host)).status).toBe(401);
    const first = await request({ port }, 'GET', `/dashboard/?token=${url.searchParams.get('token')}`, host);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/dashboard/');
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(String(first.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    // Spent: the same link opens nothing for anyone else.
    expect((await request({ port }, 'GET', `/dashboard/?token=${url.searchParams.get('token')}`, host)).status).toBe(401);
    const page = await request({ port }, 'GET', '/dashboard/', { ...host, cookie });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).toContain('<script src="app.js"');
    const status = await request({ port }, 'GET', '/dashboard/api/status', { ...host, cookie });
    expect(status.status).toBe(200);
    expect(Object.keys((JSON.parse(status.body) as { services: object }).services)).toEqual(['web']);
    // Read only, and nothing of the control API outside /dashboard/.
    expect((await request({ port }, 'POST', '/dashboard/api/status', { ...host, cookie })).status).toBe(405);
    expect((await request({ port }, 'GET', '/v1/status', { ...host, cookie })).status).toBe(404);
    expect((await request({ port }, 'GET', '/dashboard/../v1/status', { ...host, cookie })).status).not.toBe(200);
    // Another name for this address (DNS rebinding) is refused, cookie or not.
    expect((await request({ port }, 'GET', '/dashboard/', { host: `evil.example:${port}`, cookie })).status).toBe(421);
  });

  it('exits 3 when no Baton answers', async () => {
    const r = await runCli(['dashboard', '--socket', `${baton.dir}/nothing.sock`]);
    expect(r.code).toBe(3);
  });
});

describe('the dashboard routes on the control socket', () => {
  it('serves the page, its assets with ETags, and the event stream', async () => {
    const s = { socketPath: baton.socket };
    expect((await request(s, 'GET', '/dashboard')).status).toBe(308);
    const js = await request(s, 'GET', '/dashboard/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect((await request(s, 'GET', '/dashboard/app.js', { 'if-none-match': String(js.headers.etag) })).status).toBe(304);
    expect((await request(s, 'GET', '/dashboard/nope.js')).status).toBe(404);
    expect((await request(s, 'POST', '/v1/history')).status).toBe(405);
    const series = JSON.parse((await request(s, 'GET', '/v1/series')).body) as { interval_ms: number; services: Record<string, { rps: number[] }> };
    expect(series.interval_ms).toBe(1000);
    expect(Object.keys(series.services)).toEqual(['web']);
    // One tick arrives within about a second.
    const tick = await new Promise<string>((resolve, reject) => {
      const req = http.get({ socketPath: baton.socket, path: '/v1/events' }, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let text = '';
        res.on('data', (c) => {
          text += c;
          if (text.includes('event: tick')) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', reject);
      setTimeout(() => reject(new Error('no tick in 3 s')), 3000).unref();
    });
    const data = /event: tick\ndata: (.*)\n/.exec(tick)![1]!;
    expect(Object.keys((JSON.parse(data) as { status: { services: object } }).status.services)).toEqual(['web']);
  });
});
