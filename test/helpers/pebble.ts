/**
 * Pebble, Let's Encrypt's ACME test server (Debian package `pebble`), and pebble-challtestsrv
 * as its DNS, which answers every A query with 127.0.0.1 (and no AAAA), all on free loopback
 * ports. Pebble's own HTTPS runs on a certificate made here with openssl; the CA that issues
 * Baton's certificates is new at every start, its root at the management port's /roots/0.
 * Every process is stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { freePort } from '../../src/runtime/free-port.js';
import { stopProcess } from './baton.js';
import { issueCert, makeCa } from './tls.js';

export const PEBBLE = '/usr/bin/pebble';
export const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';

export function pebbleAvailable(): { ok: boolean; reason?: string } {
  for (const bin of [PEBBLE, CHALLTESTSRV]) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      return { ok: false, reason: `${bin} not found (apt-get install -y pebble)` };
    }
  }
  return { ok: true };
}

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The CA of Pebble's own HTTPS certificate: Baton's `acme.ca_file`. */
  caFile: string;
  port: number;
  /** The root of the CA that issues certificates (new at every Pebble start). */
  root(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Where Pebble validates HTTP-01 (Baton's plain listener) and TLS-ALPN-01 (its TLS listener). */
  httpPort: number;
  tlsPort: number;
  /** A folder for Pebble's config and certificate. */
  dir: string;
  /** Pebble's ACME port (to restart it on the same directory URL); free by default. */
  port?: number;
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, timeout: 2000, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject)
      .on('timeout', function (this: import('node:http').ClientRequest) {
        this.destroy(new Error('timed out'));
      });
  });
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  mkdirSync(opts.dir, { recursive: true });
  const ca = makeCa(opts.dir, 'Pebble HTTPS test CA');
  const cert = issueCert(ca, 'pebble', ['localhost', 'IP:127.0.0.1']);
  const [port, mgmt, dns, challMgmt] = [opts.port ?? (await freePort()), await freePort(), await freePort(), await freePort()];
  const config = path.join(opts.dir, 'pebble-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: cert.certFile,
        privateKey: cert.keyFile,
        httpPort: opts.httpPort,
        tlsPort: opts.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let out = '';
  const procs: ChildProcess[] = [];
  const collect = (p: ChildProcess): void => {
    p.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    procs.push(p);
  };
  collect(
    spawn(CHALLTESTSRV, ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dns}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmt}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  collect(
    spawn(PEBBLE, ['-config', config, '-dnsserver', `127.0.0.1:${dns}`, '-strict=false'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    }),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => stopProcess(p, 5000)));
  };
  const directory = `https://127.0.0.1:${port}/dir`;
  // Bounded: 15 s for Pebble to answer its directory.
  const deadline = performance.now() + 15_000;
  for (;;) {
    const ok = await get(directory, ca.pem).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (performance.now() > deadline || procs.some((p) => p.exitCode !== null)) {
      await stop();
      throw new Error(`pebble did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    directory,
    caFile: ca.certFile,
    port,
    root: async () => (await get(`https://127.0.0.1:${mgmt}/roots/0`, ca.pem)).body,
    output: () => out,
    stop,
  };
}
