/**
 * The TLS listener (issue 11) through the real CLI: ALPN, TLS versions, certificates by SNI,
 * redirect_http, HSTS, X-Forwarded-Proto, wss://, a bad certificate refused at start, and
 * certificates replaced on disk taken by `baton reload` without dropping a connection.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import https from 'node:https';
import WebSocket from 'ws';
import { configYaml, dispose, removeDir, runCli, startBaton, type RunningBaton } from '../helpers/baton.js';
import { h2Connect, h2Request, handshake, httpsRequest, issueCert, makeCa, type TestCa } from '../helpers/tls.js';
import { freePort } from '../../src/runtime/free-port.js';
import { request as control } from '../../src/cli/client.js';
import type { StatusBody } from '../../src/control/protocol.js';

let dir: string;
let ca: TestCa;
let baton: RunningBaton | undefined;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-tls-'));
  ca = makeCa(dir);
  issueCert(ca, 'wild', ['*.baton.test', 'localhost']);
  issueCert(ca, 'exact', ['a.baton.test']);
  issueCert(ca, 'other', ['other.example']);
});
afterAll(() => removeDir(dir));
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

/** A config with `tls:` on a free port; certificates by file stem in `dir`. */
async function tlsYaml(opts: { certs?: string[]; tlsExtra?: string; service?: string; hosts?: string[] } = {}): Promise<{ yaml: string; tlsPort: number }> {
  const tlsPort = await freePort();
  const certs = (opts.certs ?? ['wild', 'exact']).map((c) => `    - { cert: ${path.join(dir, `${c}.pem`)}, key: ${path.join(dir, `${c}.key`)} }`).join('\n');
  const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  certificates:\n${certs}\n${opts.tlsExtra ?? ''}`;
  const yaml = configYaml({ web: { command: ['node', path.resolve('test/fixtures/h2-app.js')], ...(opts.hosts === undefined ? {} : { hosts: opts.hosts }), ...(opts.service === undefined ? {} : { extra: opts.service }) } }, top);
  return { yaml, tlsPort };
}

/** true when something may listen on `host:port` now, else why not. */
function canListen(host: string, port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function plain(port: number, pathname: string, host: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, headers: { host }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('the TLS listener', () => {
  it('speaks HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3 only', async () => {
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml);
    expect((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, alpn: ['h2', 'http/1.1'] })).alpn).toBe('h2');
    expect((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, alpn: ['http/1.1'] })).alpn).toBe('http/1.1');
    expect((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion: 'TLSv1.2' })).version).toBe('TLSv1.2');
    expect((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem })).version).toBe('TLSv1.3');
    await expect(handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion: 'TLSv1.1' })).rejects.toThrow();
  });

  it('picks certificates by SNI, the most specific first; no SNI or an unknown name gets the first', async () => {
    const { yaml, tlsPort } = await tlsYaml({ certs: ['wild', 'exact', 'other'] });
    baton = await startBaton(yaml);
    expect((await handshake(tlsPort, { servername: 'a.baton.test', ca: ca.pem })).names).toBe('DNS:a.baton.test');
    expect((await handshake(tlsPort, { servername: 'b.baton.test', ca: ca.pem })).names).toContain('DNS:*.baton.test');
    expect((await handshake(tlsPort, { servername: 'other.example', ca: ca.pem })).names).toBe('DNS:other.example');
    // A wildcard covers one label only: x.a.baton.test is unknown, and gets the first certificate.
    expect((await handshake(tlsPort, { servername: 'x.a.baton.test' })).names).toContain('DNS:*.baton.test');
    expect((await handshake(tlsPort, {})).names).toContain('DNS:*.baton.test');
  });

  it('forwards with X-Forwarded-Proto: https over HTTPS/1.1 and HTTP/2', async () => {
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml);
    const h1 = await httpsRequest(tlsPort, ca.pem, { path: '/headers' });
    expect(JSON.parse(h1.body.toString())['x-forwarded-proto']).toBe('https');
    const session = await h2Connect(tlsPort, ca.pem);
    const h2 = await h2Request(session, { ':path': '/headers' });
    session.close();
    const seen = JSON.parse(h2.body.toString()) as Record<string, string>;
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['host']).toBe(`localhost:${tlsPort}`);
    const direct = await plain(baton.port, '/headers', 'not-covered.example');
    expect(JSON.parse(direct.body)['x-forwarded-proto']).toBe('http');
  });

  it('redirects plain HTTP for a host it has a certificate for with 308, keeping path and query; ACME paths and other hosts are not redirected', async () => {
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml);
    const r = await plain(baton.port, '/some/path?q=1&b=2', 'a.baton.test');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe(`https://a.baton.test:${tlsPort}/some/path?q=1&b=2`);
    expect((await plain(baton.port, '/.well-known/acme-challenge/abc', 'a.baton.test')).status).toBe(200); // to the app
    expect((await plain(baton.port, '/version', 'not-covered.example')).status).toBe(200);
  });

  it('leaves the port out of the redirect when the TLS listener is on 443', async () => {
    // A loopback address of its own, so port 443 is this test's alone.
    const address = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;
    const probe = await canListen(address, 443);
    if (probe !== true) {
      if (process.env.CI === 'true') throw new Error(`cannot listen on ${address}:443 under CI: ${probe}`);
      console.warn(`skipped: cannot listen on ${address}:443 (${probe}); needs root or a low ip_unprivileged_port_start`);
      return;
    }
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml.replace(`listen: 127.0.0.1:${tlsPort}`, `listen: ${address}:443`));
    const r = await plain(baton.port, '/a?b=1', 'a.baton.test');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('https://a.baton.test/a?b=1');
    // The Host the client sent named a port: the redirect goes to the TLS listener's, 443, unsaid.
    expect((await plain(baton.port, '/a', `a.baton.test:${baton.port}`)).headers.location).toBe('https://a.baton.test/a');
    expect((await handshake(443, { host: address, servername: 'a.baton.test', ca: ca.pem })).names).toBe('DNS:a.baton.test');
  });

  it('does not redirect when redirect_http is false', async () => {
    const { yaml } = await tlsYaml({ tlsExtra: '  redirect_http: false\n' });
    baton = await startBaton(yaml);
    expect((await plain(baton.port, '/version', 'a.baton.test')).status).toBe(200);
  });

  it('adds Strict-Transport-Security over TLS for a service with hsts, and never over plain HTTP', async () => {
    const { yaml, tlsPort } = await tlsYaml({ service: 'hsts:\n  max_age: 600\n  include_subdomains: true', tlsExtra: '  redirect_http: false\n' });
    baton = await startBaton(yaml);
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version' })).headers['strict-transport-security']).toBe('max-age=600; includeSubDomains');
    const session = await h2Connect(tlsPort, ca.pem);
    expect((await h2Request(session, { ':path': '/version' })).headers['strict-transport-security']).toBe('max-age=600; includeSubDomains');
    session.close();
    expect((await plain(baton.port, '/version', 'localhost')).headers['strict-transport-security']).toBeUndefined();
  });

  it('adds Strict-Transport-Security per service: one with hsts gets it, another on the same listener does not', async () => {
    const tlsPort = await freePort();
    const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  redirect_http: false\n  certificates:\n    - { cert: ${path.join(dir, 'wild.pem')}, key: ${path.join(dir, 'wild.key')} }\n`;
    baton = await startBaton(configYaml({ strict: { hosts: ['a.baton.test'], extra: 'hsts: true' }, lax: { hosts: ['b.baton.test'] } }, top));
    const strict = await httpsRequest(tlsPort, ca.pem, { path: '/version', host: 'a.baton.test' });
    expect(strict.status).toBe(200);
    expect(strict.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    const lax = await httpsRequest(tlsPort, ca.pem, { path: '/version', host: 'b.baton.test' });
    expect(lax.status).toBe(200);
    expect(lax.headers['strict-transport-security']).toBeUndefined();
  });

  it('sends no Strict-Transport-Security by default', async () => {
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml);
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version' })).headers['strict-transport-security']).toBeUndefined();
  });

  it('serves the notice socket and proxied WebSockets over wss:// (HTTP/1.1 by ALPN)', async () => {
    const tlsPort = await freePort();
    const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  certificates:\n    - { cert: ${path.join(dir, 'wild.pem')}, key: ${path.join(dir, 'wild.key')} }\n`;
    baton = await startBaton(configYaml({ web: {} }, top));
    const notice = new WebSocket(`wss://localhost:${tlsPort}/_baton/ws`, { ca: ca.pem });
    const messages: string[] = [];
    notice.on('message', (m) => messages.push(String(m)));
    await new Promise((resolve, reject) => notice.once('open', resolve).once('error', reject));
    const echo = new WebSocket(`wss://localhost:${tlsPort}/ws`, { ca: ca.pem });
    await new Promise((resolve, reject) => echo.once('open', resolve).once('error', reject));
    const reply = new Promise<string>((resolve) => echo.on('message', (m) => String(m).includes('echo') && resolve(String(m))));
    echo.send('hello over wss');
    expect(await reply).toContain('hello over wss');
    echo.close();
    expect((await baton.cli('notify', 'web', 'over tls')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(messages.some((m) => m.includes('over tls'))).toBe(true);
    notice.close();
  });

  it('resumes sessions with tickets', async () => {
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml);
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      let session: Buffer | undefined;
      const first = await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, onSession: (s) => (session = s) });
      expect(first.reused).toBe(false);
      expect(session).toBeDefined();
      expect((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, session })).reused).toBe(true);
    }
  });

  it('gives a resumed TLS 1.3 session a new ticket, which resumes in turn, before and after a reload', async () => {
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml);
    const chain = async (): Promise<boolean[]> => {
      let ticket: Buffer | undefined;
      await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, onSession: (s) => (ticket = s) });
      const reused: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const session = ticket;
        ticket = undefined;
        reused.push((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, ...(session === undefined ? {} : { session }), onSession: (s) => (ticket = s) })).reused);
      }
      return reused;
    };
    expect(await chain()).toEqual([true, true, true]);
    expect((await baton.cli('reload')).code).toBe(0); // a new server context: the ticket callback goes on it too
    expect(await chain()).toEqual([true, true, true]);
  });

  it('issues no tickets with session_tickets.enabled false, before and after a reload', async () => {
    const { yaml, tlsPort } = await tlsYaml({ tlsExtra: '  session_tickets:\n    enabled: false\n' });
    baton = await startBaton(yaml);
    const tickets = async (): Promise<boolean> => {
      let session: Buffer | undefined;
      await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion: 'TLSv1.2', onSession: (s) => (session = s) });
      return session !== undefined && (await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion: 'TLSv1.2', session })).reused;
    };
    expect(await tickets()).toBe(false);
    expect((await baton.cli('reload')).code).toBe(0);
    expect(await tickets()).toBe(false);
  });

  it('rotates its ticket keys: a ticket issued before a rotation resumes no more, one issued after does', async () => {
    const { yaml, tlsPort } = await tlsYaml({ tlsExtra: '  session_tickets:\n    rotate: 1s\n' });
    baton = await startBaton(yaml);
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      let old: Buffer | undefined;
      await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, onSession: (s) => (old = s) });
      await new Promise((r) => setTimeout(r, 2500)); // two rotations and more
      expect((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, session: old })).reused).toBe(false);
      // A fresh ticket resumes (tried thrice: a rotation may fall between issuing and using it).
      let resumed = false;
      for (let i = 0; i < 3 && !resumed; i++) {
        let fresh: Buffer | undefined;
        await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, onSession: (s) => (fresh = s) });
        resumed = (await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, session: fresh })).reused;
      }
      expect(resumed).toBe(true);
    }
  });

  it('shows its listener and certificates in status', async () => {
    const { yaml, tlsPort } = await tlsYaml();
    baton = await startBaton(yaml);
    const status = (await control(baton.socket, 'GET', '/v1/status')).body as StatusBody;
    expect(status.tls?.listen).toBe(`127.0.0.1:${tlsPort}`);
    expect(status.tls?.certificates.map((c) => c.names)).toEqual([['*.baton.test', 'localhost'], ['a.baton.test']]);
  });
});

describe.each(['start', 'validate'])('certificates that cannot be used, `baton %s`', (command) => {
  it('an unreadable certificate file fails with exit 2 naming the file', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'baton-tls-bad-'));
    const missing = path.join(work, 'missing.pem');
    const yaml = configYaml({ web: {} }, `tls:\n  listen: 127.0.0.1:0\n  certificates:\n    - { cert: ${missing}, key: ${path.join(dir, 'wild.key')} }\n`);
    writeFileSync(path.join(work, 'baton.yaml'), yaml);
    const r = await runCli([command, '-c', path.join(work, 'baton.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toContain('tls.certificates[0].cert');
    await removeDir(work);
  });

  it('a key that does not match its certificate fails with exit 2 naming the key file', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'baton-tls-bad-'));
    const yaml = configYaml({ web: {} }, `tls:\n  listen: 127.0.0.1:0\n  certificates:\n    - { cert: ${path.join(dir, 'wild.pem')}, key: ${path.join(dir, 'exact.key')} }\n`);
    writeFileSync(path.join(work, 'baton.yaml'), yaml);
    const r = await runCli([command, '-c', path.join(work, 'baton.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(dir, 'exact.key'));
    expect(r.stderr).toMatch(/does not match/);
    await removeDir(work);
  });
});

describe('`baton validate` of a tls section', () => {
  it('passes readable, matching certificates', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'baton-tls-ok-'));
    const yaml = configYaml({ web: {} }, `tls:\n  listen: 127.0.0.1:0\n  certificates:\n    - { cert: ${path.join(dir, 'wild.pem')}, key: ${path.join(dir, 'wild.key')} }\n`);
    writeFileSync(path.join(work, 'baton.yaml'), yaml);
    const r = await runCli(['validate', '-c', path.join(work, 'baton.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    await removeDir(work);
  });

  it('names an unreadable acme.ca_file (--json: the code and the file)', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'baton-tls-bad-'));
    const missing = path.join(work, 'no-ca.pem');
    const yaml = configYaml({ web: {} }, `tls:\n  listen: 127.0.0.1:0\n  acme:\n    email: ops@example.com\n    directory: https://127.0.0.1:1/dir\n    ca_file: ${missing}\n    storage: ./acme\n`);
    writeFileSync(path.join(work, 'baton.yaml'), yaml);
    const r = await runCli(['validate', '--json', '-c', path.join(work, 'baton.yaml')]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(out.ok).toBe(false);
    expect(out.error.code).toBe('CONFIG_INVALID');
    expect(out.error.message).toContain(missing);
    await removeDir(work);
  });
});

describe('certificates replaced on disk', () => {
  it('are served after a reload (`baton reload`, SIGHUP), while a connection made before keeps working', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'baton-tls-reload-'));
    copyFileSync(path.join(dir, 'wild.pem'), path.join(work, 'site.pem'));
    copyFileSync(path.join(dir, 'wild.key'), path.join(work, 'site.key'));
    const tlsPort = await freePort();
    const yaml = configYaml({ web: { command: ['node', path.resolve('test/fixtures/h2-app.js')] } }, `tls:\n  listen: 127.0.0.1:${tlsPort}\n  certificates:\n    - { cert: ./site.pem, key: ./site.key }\n`);
    baton = await startBaton(yaml, { dir: work });
    const before = await handshake(tlsPort, { servername: 'localhost', ca: ca.pem });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version', agent })).status).toBe(200);
    const session = await h2Connect(tlsPort, ca.pem);
    expect((await h2Request(session, { ':path': '/version' })).status).toBe(200);

    const renewed = issueCert(ca, 'renewed', ['localhost', '*.baton.test']);
    copyFileSync(renewed.certFile, path.join(work, 'site.pem'));
    copyFileSync(renewed.keyFile, path.join(work, 'site.key'));
    const r = await baton.cli('reload');
    expect(r.code, r.stderr).toBe(0);
    const after = await handshake(tlsPort, { servername: 'localhost', ca: ca.pem });
    expect(after.serial).not.toBe(before.serial);
    expect((await handshake(tlsPort, {})).serial).toBe(after.serial); // the default (no SNI) too
    // The connections made before the reload still answer.
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version', agent })).status).toBe(200);
    expect((await h2Request(session, { ':path': '/version' })).status).toBe(200);

    // SIGHUP does the same (asynchronously: bounded wait for the new serial).
    const third = issueCert(ca, 'renewed-again', ['localhost', '*.baton.test']);
    copyFileSync(third.certFile, path.join(work, 'site.pem'));
    copyFileSync(third.keyFile, path.join(work, 'site.key'));
    baton.proc.kill('SIGHUP');
    let latest = after.serial;
    for (const until = performance.now() + 10_000; latest === after.serial && performance.now() < until; ) {
      await new Promise((r) => setTimeout(r, 100));
      latest = (await handshake(tlsPort, { servername: 'localhost', ca: ca.pem })).serial;
    }
    expect(latest).not.toBe(after.serial);
    expect((await httpsRequest(tlsPort, ca.pem, { path: '/version', agent })).status).toBe(200);
    expect((await h2Request(session, { ':path': '/version' })).status).toBe(200);
    session.close();
    agent.destroy();
  });

  it('a reload with a broken certificate fails naming the file and changes nothing', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'baton-tls-reload-'));
    copyFileSync(path.join(dir, 'wild.pem'), path.join(work, 'site.pem'));
    copyFileSync(path.join(dir, 'wild.key'), path.join(work, 'site.key'));
    const tlsPort = await freePort();
    const yaml = configYaml({ web: {} }, `tls:\n  listen: 127.0.0.1:${tlsPort}\n  certificates:\n    - { cert: ./site.pem, key: ./site.key }\n`);
    baton = await startBaton(yaml, { dir: work });
    const before = await handshake(tlsPort, { servername: 'localhost', ca: ca.pem });
    copyFileSync(path.join(dir, 'exact.key'), path.join(work, 'site.key'));
    const r = await control(baton.socket, 'POST', '/v1/reload');
    const error = (r.body as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(path.join(work, 'site.key'));
    expect((await handshake(tlsPort, { servername: 'localhost', ca: ca.pem })).serial).toBe(before.serial);
  });
});
