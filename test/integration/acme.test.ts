/**
 * ACME against a real Pebble (issue 11): HTTP-01 and TLS-ALPN-01 issuance with the served
 * chain verified against Pebble's root, the stored certificate served on a restart with Pebble
 * down, renewal forced by configuration, a host added by reload, and failing orders (a
 * challenge Pebble cannot validate, an unreachable directory) logged with their reason and
 * retried with backoff while Baton serves on. Skipped, with the reason printed, where Pebble is
 * not installed, unless CI=true.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { configYaml, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { handshake, makeCa } from '../helpers/tls.js';
import { pebbleAvailable, startPebble, type Pebble } from '../helpers/pebble.js';
import { freePort } from '../../src/runtime/free-port.js';
import { request as control } from '../../src/cli/client.js';
import type { StatusBody } from '../../src/control/protocol.js';

const availability = pebbleAvailable();
const run = availability.ok || process.env.CI === 'true';
if (!run) console.warn(`ACME tests skipped: ${availability.reason}`);

const HOST = 'web.baton.test';

interface Ports {
  plain: number;
  tls: number;
}

function acmeYaml(ports: Ports, pebble: { directory: string; caFile: string }, opts: { challenge?: string; hosts?: string[]; acmeExtra?: string } = {}): string {
  const top =
    `tls:\n  listen: 127.0.0.1:${ports.tls}\n  acme:\n    directory: ${pebble.directory}\n    email: ops@baton.test\n    ca_file: ${pebble.caFile}\n` +
    `    challenge: ${opts.challenge ?? 'http-01'}\n    storage: ./acme\n    retry_after: 1s\n${opts.acmeExtra ?? ''}`;
  return configYaml({ web: { hosts: opts.hosts ?? [HOST] } }, top).replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${ports.plain}`);
}

async function status(b: RunningBaton): Promise<StatusBody> {
  return (await control(b.socket, 'GET', '/v1/status')).body as StatusBody;
}

/** Waits (bounded) until ACME reports `host` valid; resolves with the ms it took from `since`. */
async function certified(b: RunningBaton, host: string, since: number, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await status(b);
    if (s.tls?.acme?.hosts[host]?.state === 'valid') return performance.now() - since;
    if (performance.now() > deadline) throw new Error(`no certificate for ${host} within ${timeoutMs} ms: ${JSON.stringify(s.tls)}\n${b.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function plainGet(port: number, host: string, pathname = '/version'): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

async function untilLogged(b: RunningBaton, pattern: RegExp, count: number, timeoutMs = 20_000): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const lines = b.output().split('\n').filter((l) => pattern.test(l));
    if (lines.length >= count) return lines;
    if (performance.now() > deadline) throw new Error(`fewer than ${count} lines matching ${pattern} within ${timeoutMs} ms:\n${b.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!run)('ACME against Pebble', () => {
  let work: string;
  let ports: Ports;
  let pebble: Pebble | undefined;
  const batons: RunningBaton[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'baton-acme-'));
    ports = { plain: await freePort(), tls: await freePort() };
    pebble = await startPebble({ httpPort: ports.plain, tlsPort: ports.tls, dir: path.join(work, 'pebble') });
  });
  afterEach(async () => {
    for (const b of batons.splice(0)) await b.stop();
  });
  afterAll(async () => {
    await pebble?.stop();
    await removeDir(work);
  });

  const start = async (yaml: string, dir: string): Promise<RunningBaton> => {
    const b = await startBaton(yaml, { dir });
    batons.push(b);
    return b;
  };

  it('obtains a certificate by HTTP-01, serves it with a chain that verifies against Pebble\'s root, and stores it 0600', async () => {
    const dir = path.join(work, 'http01');
    await mkdir(dir);
    const began = performance.now();
    const b = await start(acmeYaml(ports, pebble!), dir);
    const ms = await certified(b, HOST, began);
    console.log(`[acme] HTTP-01 issuance: ${Math.round(ms)} ms from baton start`);
    const root = await pebble!.root();
    const served = await handshake(ports.tls, { servername: HOST, ca: root });
    expect(served.names).toBe(`DNS:${HOST}`);
    expect(b.output()).toMatch(/"msg":"certificate obtained"/);
    const files = await listFiles(path.join(dir, 'acme'));
    expect(files.map((f) => path.basename(f)).sort()).toEqual(['account.json', 'account.key', `${HOST}.crt`, `${HOST}.key`].sort());
    for (const f of files) expect(statSync(f).mode & 0o777).toBe(0o600);
    // Plain HTTP for the host now goes to https.
    expect(await plainGet(ports.plain, HOST)).toBe(308);
  });

  it('serves the stored certificate at once on a restart with Pebble down, ordering nothing', async () => {
    const dir = path.join(work, 'http01');
    const before = await handshake(ports.tls, { servername: HOST }).catch(() => undefined);
    expect(before).toBeUndefined(); // no Baton running between tests
    const first = await start(acmeYaml(ports, pebble!), dir);
    await certified(first, HOST, performance.now());
    const served = await handshake(ports.tls, { servername: HOST });
    await first.stop();
    batons.splice(0);
    await pebble!.stop();
    try {
      const b = await start(acmeYaml(ports, pebble!), dir);
      const again = await handshake(ports.tls, { servername: HOST });
      expect(again.serial).toBe(served.serial);
      await new Promise((r) => setTimeout(r, 500));
      expect(b.output()).toContain('stored certificate loaded');
      expect(b.output()).not.toContain('certificate order started');
    } finally {
      pebble = await startPebble({ httpPort: ports.plain, tlsPort: ports.tls, dir: path.join(work, 'pebble2'), port: pebble!.port });
    }
  });

  it('renews when the configuration asks for it (renew_remaining: 1), serving the old certificate meanwhile', async () => {
    const dir = path.join(work, 'http01');
    // Renewing at every check, a check a second: the first renewal may end before the first
    // handshake below (it did on a loaded machine), so the test waits for the one after it.
    const b = await start(acmeYaml(ports, pebble!, { acmeExtra: '    renew_remaining: 1\n    check_interval: 1s\n' }), dir);
    const renewedLine = /"renewed":true,"msg":"certificate obtained"/;
    const old = await handshake(ports.tls, { servername: HOST });
    const before = b.output().split('\n').filter((l) => renewedLine.test(l)).length;
    await untilLogged(b, renewedLine, before + 1);
    const renewed = await handshake(ports.tls, { servername: HOST, ca: await pebble!.root() });
    expect(renewed.serial).not.toBe(old.serial);
  });

  it('obtains a certificate by TLS-ALPN-01 on the TLS listener', async () => {
    const dir = path.join(work, 'alpn');
    await mkdir(dir);
    const began = performance.now();
    const b = await start(acmeYaml(ports, pebble!, { challenge: 'tls-alpn-01' }), dir);
    const ms = await certified(b, HOST, began);
    console.log(`[acme] TLS-ALPN-01 issuance: ${Math.round(ms)} ms from baton start`);
    const served = await handshake(ports.tls, { servername: HOST, ca: await pebble!.root(), alpn: ['h2'] });
    expect(served.names).toBe(`DNS:${HOST}`);
    expect(served.alpn).toBe('h2');
  });

  it('gets a certificate for a host added by reload, without a restart', async () => {
    const dir = path.join(work, 'reload');
    await mkdir(dir);
    const b = await start(acmeYaml(ports, pebble!), dir);
    await certified(b, HOST, performance.now());
    await writeFile(b.configFile, acmeYaml(ports, pebble!, { hosts: [HOST, 'added.baton.test'] }));
    const r = await control(b.socket, 'POST', '/v1/reload');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await certified(b, 'added.baton.test', performance.now());
    expect((await handshake(ports.tls, { servername: 'added.baton.test', ca: await pebble!.root() })).names).toBe('DNS:added.baton.test');
  });
});

describe.skipIf(!run)('ACME orders that fail', () => {
  let work: string;
  const batons: RunningBaton[] = [];
  const pebbles: Pebble[] = [];

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'baton-acme-fail-'));
  });
  afterEach(async () => {
    for (const b of batons.splice(0)) await b.stop();
    for (const p of pebbles.splice(0)) await p.stop();
  });
  afterAll(() => removeDir(work));

  it('a challenge Pebble cannot validate is logged with its reason and retried with backoff; TLS for the host fails cleanly, plain HTTP answers', async () => {
    const ports = { plain: await freePort(), tls: await freePort() };
    // Pebble validates HTTP-01 on a port where nothing listens.
    const pebble = await startPebble({ httpPort: await freePort(), tlsPort: ports.tls, dir: path.join(work, 'pebble-bad') });
    pebbles.push(pebble);
    const dir = path.join(work, 'invalid');
    await mkdir(dir);
    const b = await startBaton(acmeYaml(ports, pebble), { dir });
    batons.push(b);
    const failures = await untilLogged(b, /"msg":"certificate order failed"/, 2, 30_000);
    console.log(`[acme] ${failures[0]}`);
    const [first, second] = failures.map((l) => JSON.parse(l) as { reason: string; failures: number; retry_in_ms: number });
    expect(first!.reason).toMatch(/connection|refused/i);
    expect(first!.failures).toBe(1);
    expect(second!.failures).toBe(2);
    expect(second!.retry_in_ms).toBe(2 * first!.retry_in_ms);
    await expect(handshake(ports.tls, { servername: HOST })).rejects.toThrow();
    expect(await plainGet(ports.plain, HOST)).toBe(200);
    const s = await status(b);
    expect(s.tls?.acme?.hosts[HOST]?.state).toBe('failing');
    expect(s.tls?.acme?.hosts[HOST]?.last_error).toMatch(/connection|refused/i);
  });

  it('an unreachable directory is logged with its reason and retried with backoff, Baton serving on', async () => {
    const ports = { plain: await freePort(), tls: await freePort() };
    const dir = path.join(work, 'unreachable');
    await mkdir(dir);
    // A CA file is given (it must be readable), but nothing answers at the directory's address.
    const ca = makeCa(await mkdtemp(path.join(work, 'ca-')));
    const b = await startBaton(acmeYaml(ports, { directory: `https://127.0.0.1:${await freePort()}/dir`, caFile: ca.certFile }), { dir });
    batons.push(b);
    const failures = await untilLogged(b, /"msg":"certificate order failed"/, 2, 30_000);
    console.log(`[acme] ${failures[0]}`);
    const [first, second] = failures.map((l) => JSON.parse(l) as { reason: string; failures: number; retry_in_ms: number });
    expect(first!.reason).toMatch(/ECONNREFUSED/);
    expect(second!.retry_in_ms).toBeGreaterThan(first!.retry_in_ms);
    expect(await plainGet(ports.plain, HOST)).toBe(200);
    expect(b.proc.exitCode).toBeNull();
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}
