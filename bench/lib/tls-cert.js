/**
 * The bench's TLS certificate: one self-signed ECDSA P-256 certificate for localhost and
 * 127.0.0.1, made with openssl once per run into a temporary folder and served by nginx,
 * HAProxy and Baton alike (the load generators do not verify it). Removed when the run ends.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let made;

/** `{ cert, key, pem }`: file paths of the chain and key, and `pem` (chain + key in one file, for HAProxy). */
export function benchCertificate() {
  if (made !== undefined) return made;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-tls-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'site.key', '-out', 'site.pem', '-days', '7', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const cert = path.join(dir, 'site.pem');
  const key = path.join(dir, 'site.key');
  const pem = path.join(dir, 'site-with-key.pem');
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  made = { dir, cert, key, pem };
  return made;
}

/** Baton's `tls:` section on `port` with the bench certificate (no redirect: the bench's plain requests name an IP anyway). */
export function batonTlsYaml(port) {
  const c = benchCertificate();
  return `tls:\n  listen: 127.0.0.1:${port}\n  redirect_http: false\n  certificates:\n    - { cert: ${c.cert}, key: ${c.key} }`;
}
