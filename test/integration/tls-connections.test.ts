/**
 * The TLS listener's HTTPS/1.1 connections handed to node:http as the plain listener's (issue
 * 11, with issues 16 and 17): logged as secure http/1.1, and under the plain side's rules: one
 * request at a time in order, CONNECT refused after the answer before it, an upgrade (and a
 * WebSocket handshake with a body) refused, nothing forwarded behind a request without Host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import http from 'node:http';
import tls from 'node:tls';
import { ROOT, configYaml, dispose, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { httpsRequest, tlsSite, type TestCa } from '../helpers/tls.js';

const ORDERED_APP = path.join(ROOT, 'test/fixtures/ordered-app.js');

let dir: string;
let ca: TestCa;
let baton: RunningBaton;
let tlsPort: number;

beforeAll(async () => {
  const site = await tlsSite('baton-tls-conn-', ['localhost', 'ordered.test']);
  ({ dir, ca, port: tlsPort } = site);
  const top = `access_log:\n  path: ./access.log\n  include_query: true\n` + site.section;
  baton = await startBaton(configYaml({ web: { hosts: ['localhost'] }, ordered: { hosts: ['ordered.test'], command: ['node', ORDERED_APP] } }, top));
});
afterAll(async () => {
  await dispose(baton);
  await removeDir(dir);
});

type Line = Record<string, unknown>;

/** The access log's line for `path`, once written (bounded wait: lines are batched for 100 ms). */
async function lineFor(pathname: string, kind = 'http'): Promise<Line | undefined> {
  const until = Date.now() + 5000;
  for (;;) {
    const text = await readFile(path.join(baton.dir, 'access.log'), 'utf8').catch(() => '');
    const line = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line)
      .find((l) => l['path'] === pathname && l['kind'] === kind);
    if (line !== undefined || Date.now() > until) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Raw bytes over TLS (HTTP/1.1 by ALPN): everything answered until the server closes or `timeoutMs`. */
function tlsExchange(data: string, opts: { host?: string; maxVersion?: tls.SecureVersion; timeoutMs?: number } = {}): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: opts.host ?? 'localhost', ca: ca.pem, ALPNProtocols: ['http/1.1'], ...(opts.maxVersion === undefined ? {} : { maxVersion: opts.maxVersion }) });
    let reply = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closed });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 5000);
    socket.once('secureConnect', () => socket.write(data));
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => (reply === '' && !done ? (clearTimeout(timer), (done = true), reject(err)) : finish(true)));
  });
}

function statuses(reply: string): string[] {
  return [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!);
}

// The TLS version in `tls` (TLSv1.3 rather than "tls") for HTTPS/1.1 on Baton's own parser,
// HTTP/2 and wss is the obs2 branch's (test/integration/access-log-transports.test.ts there);
// here, what that file does not cover: HTTPS/1.1 handed to node:http.
describe('the access log over TLS', () => {
  it('logs HTTPS/1.1 handed to node:http as http/1.1 over TLS', async () => {
    // Expect: 100-continue is declined by Baton's parser: the connection goes to node:http.
    const r = await tlsExchange('POST /echo?via=node-path HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    expect(statuses(r.reply)).toEqual(['100', '200']);
    const line = await lineFor('/echo?via=node-path');
    expect(line).toMatchObject({ protocol: 'http/1.1', method: 'POST', status: 200, service: 'web' });
    expect(line?.['tls']).toBe('TLSv1.3');
  });

  it('logs plain HTTP with tls: null', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: baton.port, path: '/version?via=plain', headers: { host: 'localhost' }, agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject);
    });
    expect(status).toBe(200);
    expect(await lineFor('/version?via=plain')).toMatchObject({ protocol: 'http/1.1', tls: null });
  });
});

describe('HTTPS/1.1 connections handed to node:http keep the plain side\'s rules', () => {
  const host = 'ordered.test';
  const seen = async (tag: string): Promise<Array<{ url: string; arrived: number; answered: number }>> => {
    const r = await httpsRequest(tlsPort, ca.pem, { path: '/__log', host });
    return (JSON.parse(r.body.toString()) as Array<{ url: string; arrived: number; answered: number }>).filter((s) => s.url.startsWith(`/${tag}`));
  };

  it('a pipelined request reaches the app only once the answer before it has gone out', async () => {
    const r = await tlsExchange(`POST /s-order-first?delay=300 HTTP/1.1\r\nHost: ${host}\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhiGET /s-order-second HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, { host });
    expect(statuses(r.reply)).toEqual(['100', '200', '200']);
    const [first, second] = await seen('s-order-');
    expect(first?.url).toBe('/s-order-first?delay=300');
    expect(second?.url).toBe('/s-order-second');
    expect(second!.arrived).toBeGreaterThanOrEqual(first!.answered);
  });

  it('a CONNECT pipelined behind a request still being answered gets 405 after that answer', async () => {
    const r = await tlsExchange(`GET /s-connect-behind?delay=200 HTTP/1.1\r\nHost: ${host}\r\nExpect: 100-continue\r\n\r\nCONNECT x.test:443 HTTP/1.1\r\nHost: x.test:443\r\n\r\n`, { host });
    expect(statuses(r.reply)).toEqual(['100', '200', '405']);
  });

  it('an upgrade pipelined behind a request still being answered is refused after its answer', async () => {
    const r = await tlsExchange(`GET /s-upgrade-behind?delay=200 HTTP/1.1\r\nHost: ${host}\r\nExpect: 100-continue\r\n\r\nGET /h2c HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`, { host });
    expect(statuses(r.reply)).toEqual(['100', '200', '400']);
  });

  it('a WebSocket handshake with a body is refused, not passed on without it', async () => {
    const r = await tlsExchange(
      `GET /s-ws-body HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 4\r\n\r\nabcd`,
      { host },
    );
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(await seen('s-ws-body')).toEqual([]);
  });

  it('a request pipelined behind one without Host is not forwarded', async () => {
    const r = await tlsExchange(`GET /s-no-host HTTP/1.1\r\n\r\nGET /s-behind-no-host HTTP/1.1\r\nHost: ${host}\r\n\r\n`, { host });
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(statuses(r.reply)).toHaveLength(1);
    expect(r.closed).toBe(true);
    expect(await seen('s-behind-no-host')).toEqual([]);
  });
});
