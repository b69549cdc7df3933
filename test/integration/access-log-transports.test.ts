/**
 * The access log (issue 16) over the transports and states that came with the edge and the
 * migrations (issues 11 and 13): HTTPS/1.1 and HTTP/2 with their TLS version, WebSockets over
 * wss://, the edge's own answers on plain HTTP (the redirect to https), a request held while a
 * migration runs, maintenance answers, requests refused before routing, and bytes refused
 * before they were a request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { configYaml, dispose, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { h2Connect, h2Request, httpsRequest, issueCert, makeCa, type TestCa } from '../helpers/tls.js';
import { freePort } from '../../src/runtime/free-port.js';
import { linesOf, type Line } from '../helpers/access-fields.js';
import { request as control } from '../../src/cli/client.js';
import type { StatusBody } from '../../src/control/protocol.js';

let dir: string;
let ca: TestCa;
let baton: RunningBaton | undefined;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-access-tls-'));
  ca = makeCa(dir);
  issueCert(ca, 'leaf', ['localhost', 'app.test']);
});
afterAll(() => removeDir(dir));
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

const ACCESS_LOG = 'access_log:\n  path: ./access.log\n';

/** Baton's access log file (ACCESS_LOG puts it in its folder). */
function logOf(b: RunningBaton): string {
  return path.join(b.dir, 'access.log');
}

function plainGet(port: number, pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, headers, agent: false, timeout: 20_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

/** A config with `tls:` on a free port (the leaf for localhost and app.test). */
async function tlsConfig(tlsExtra = ''): Promise<{ yaml: string; tlsPort: number }> {
  const tlsPort = await freePort();
  const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  certificates:\n    - { cert: ${path.join(dir, 'leaf.pem')}, key: ${path.join(dir, 'leaf.key')} }\n${tlsExtra}${ACCESS_LOG}`;
  return { yaml: configYaml({ web: {} }, top), tlsPort };
}

const status = async (b: RunningBaton): Promise<StatusBody['services'][string]> => ((await control(b.socket, 'GET', '/v1/status')).body as StatusBody).services.web!;

describe('the access log over TLS, HTTP/2 and WebSockets', () => {
  it('names the TLS version of HTTPS/1.1 (1.3 and 1.2) and of HTTP/2 requests, and h2 as the protocol', async () => {
    const { yaml, tlsPort } = await tlsConfig('  redirect_http: false\n');
    baton = await startBaton(yaml);
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version', headers: { 'user-agent': 'tls13' } })).status).toBe(200);
    const tls12 = new https.Agent({ maxVersion: 'TLSv1.2' });
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version', headers: { 'user-agent': 'tls12' }, agent: tls12 })).status).toBe(200);
    tls12.destroy();
    const session = await h2Connect(tlsPort, ca.pem);
    try {
      const a = await h2Request(session, { ':method': 'GET', ':path': '/version?x=1', 'user-agent': 'h2' });
      expect(a.status).toBe(200);
    } finally {
      session.close();
    }
    expect((await plainGet(baton.port, '/version', { 'user-agent': 'plain' })).status).toBe(200);
    const lines = await linesOf(logOf(baton), 4);
    const by = (ua: string): Line | undefined => lines.find((l) => l.user_agent === ua);
    expect(by('tls13')).toMatchObject({ protocol: 'http/1.1', tls: 'TLSv1.3', service: 'web', status: 200, outcome: 'ok' });
    expect(by('tls12')).toMatchObject({ protocol: 'http/1.1', tls: 'TLSv1.2', status: 200 });
    expect(by('h2')).toMatchObject({ protocol: 'h2', tls: 'TLSv1.3', host: `localhost:${tlsPort}`, method: 'GET', path: '/version', status: 200, version: 'v1', attempts: 1, outcome: 'ok' });
    expect(by('h2')!.bytes_out).toBeGreaterThan(0);
    expect(by('plain')).toMatchObject({ protocol: 'http/1.1', tls: null });
  });

  it('writes a WebSocket over wss:// with its TLS version when it ends', async () => {
    const { yaml, tlsPort } = await tlsConfig();
    baton = await startBaton(yaml);
    const ws = new WebSocket(`wss://localhost:${tlsPort}/ws`, { ca: ca.pem });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
    const [line] = await linesOf(logOf(baton), 1);
    expect(line).toMatchObject({ kind: 'websocket', service: 'web', path: '/ws', status: 101, protocol: 'http/1.1', tls: 'TLSv1.3', outcome: 'ok' });
  });

  it("logs the edge's redirect of plain HTTP to https", async () => {
    const { yaml, tlsPort } = await tlsConfig();
    baton = await startBaton(yaml);
    const r = await plainGet(baton.port, '/orders?id=1', { host: 'app.test' });
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe(`https://app.test:${tlsPort}/orders?id=1`);
    const [line] = await linesOf(logOf(baton), 1);
    expect(line).toMatchObject({ kind: 'http', service: null, host: 'app.test', path: '/orders', status: 308, tls: null, attempts: 0, outcome: 'baton:redirect_https' });
  });
});

describe('the access log through migrations, maintenance and refusals', () => {
  it('gives a request held while a migration ran its held time', async () => {
    const web = { extra: 'migrate:\n  command: ["node", "-e", "setTimeout(() => {}, 1500)"]\n  hold: true\n  timeout: 20s' };
    baton = await startBaton(configYaml({ web }, ACCESS_LOG));
    const b = baton;
    const deploying = b.cli('deploy', 'web', 'v2');
    const until = Date.now() + 15_000;
    while ((await status(b)).state !== 'migrating' && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect((await status(b)).state).toBe('migrating');
    const r = await plainGet(b.port, '/version', { 'user-agent': 'held' });
    expect(r.status).toBe(200);
    expect((await deploying).code).toBe(0);
    const lines = await linesOf(logOf(b), 1);
    const line = lines.find((l) => l.user_agent === 'held')!;
    expect(line).toMatchObject({ service: 'web', status: 200, version: 'v2', outcome: 'ok' });
    // Most of its time was spent waiting for the migration, at the gate.
    expect(line.held_ms as number).toBeGreaterThan(0.5 * (line.duration_ms as number));
    expect(line.held_ms as number).toBeLessThanOrEqual(line.duration_ms as number);
  });

  it('logs maintenance answers: 503, baton:maintenance, no upstream', async () => {
    baton = await startBaton(configYaml({ web: {} }, ACCESS_LOG));
    expect((await baton.cli('maintenance', 'web', 'on', '--message', 'back soon')).code).toBe(0);
    const r = await plainGet(baton.port, '/orders', { 'user-agent': 'in-maintenance' });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('30');
    const lines = await linesOf(logOf(baton), 1);
    expect(lines.find((l) => l.user_agent === 'in-maintenance')).toMatchObject({ service: 'web', status: 503, attempts: 0, upstream: null, outcome: 'baton:maintenance' });
  });

  it('logs requests refused before routing: no route, too many header fields, a body over max_body', async () => {
    baton = await startBaton(configYaml({ web: { hosts: ['app.test'] } }, `limits:\n  max_body: 100\n  max_headers_count: 20\n${ACCESS_LOG}`));
    expect((await plainGet(baton.port, '/x', { host: 'other.test' })).status).toBe(404);
    const many: Record<string, string> = { host: 'app.test' };
    for (let i = 0; i < 30; i++) many[`x-f${i}`] = 'v';
    expect((await plainGet(baton.port, '/x', many)).status).toBe(431);
    const big = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: baton!.port, method: 'POST', path: '/upload', headers: { host: 'app.test', 'content-length': '1000' }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(Buffer.alloc(1000));
    });
    expect(big).toBe(413);
    const lines = await linesOf(logOf(baton), 3);
    expect(lines.map((l) => [l.status, l.service])).toEqual([
      [404, null],
      [431, null],
      [413, null],
    ]);
    expect(lines[0]!.outcome).toBe('baton:no_route');
    // node:http reads what Baton's parser declines: Node 20 hands the request on (refused by
    // the request path), Node 24's parser refuses it itself past maxHeadersCount.
    expect(['baton:too_many_headers', 'baton:rejected']).toContain(lines[1]!.outcome);
    expect(lines[2]!.outcome).toBe('baton:payload_too_large');
  });

  it('logs bytes refused before they were a request: a malformed head (400), CONNECT (405), a head too slow (408)', async () => {
    baton = await startBaton(configYaml({ web: {} }, `limits:\n  headers_timeout: 300ms\n${ACCESS_LOG}`));
    const raw = (bytes: string, end: boolean): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(baton!.port, '127.0.0.1', () => (end ? socket.end(bytes) : socket.write(bytes)));
        let got = '';
        socket.setTimeout(10_000, () => socket.destroy());
        socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
        socket.on('close', () => resolve(got.split('\r\n')[0]!));
        socket.on('error', reject);
      });
    expect(await raw('GET /x HTTP/1.1\r\nHost: a\r\nbad field\r\n\r\n', true)).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', true)).toMatch(/^HTTP\/1\.1 405/);
    expect(await raw('GET /slow HTTP/1.1\r\nHost: a\r\n', false)).toMatch(/^HTTP\/1\.1 408/);
    const lines = await linesOf(logOf(baton), 3);
    expect(lines.map((l) => l.status)).toEqual([400, 405, 408]);
    for (const l of lines) expect(l).toMatchObject({ kind: 'http', service: null, method: null, path: null, request_id: null, protocol: null, client: '127.0.0.1', tls: null, attempts: 0, outcome: 'baton:rejected' });
  });
});
