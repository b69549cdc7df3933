/**
 * Test certificates made with openssl into a folder: a test CA, and leaves it signs for the
 * names asked (ECDSA P-256). Clients trust the CA (`ca`), never the machine's store.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { freePort } from '../../src/runtime/free-port.js';

export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  pem: string;
}

export interface TestCert {
  certFile: string;
  keyFile: string;
  pem: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir: string, name = 'Baton Test CA'): TestCa {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, certFile: path.join(dir, 'ca.pem'), keyFile: path.join(dir, 'ca.key'), pem: readFileSync(path.join(dir, 'ca.pem'), 'utf8') };
}

/** A leaf for `names` (DNS names; IPs as "IP:127.0.0.1"), signed by `ca`, into `<file>.pem` and `<file>.key`. */
export function issueCert(ca: TestCa, file: string, names: string[], days = 30): TestCert {
  const dir = ca.dir;
  const san = names.map((n) => (n.startsWith('IP:') ? n : `DNS:${n}`)).join(',');
  const ext = path.join(dir, `${file}.ext`);
  writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${names[0]!.replace(/^IP:/, '')}`], dir);
  openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${file}.pem`, '-days', String(days), '-extfile', ext], dir);
  return { certFile: path.join(dir, `${file}.pem`), keyFile: path.join(dir, `${file}.key`), pem: readFileSync(path.join(dir, `${file}.pem`), 'utf8') };
}

/** The `tls:` section of a Baton config: a listener on 127.0.0.1:`port` serving `cert`, plain HTTP not redirected. */
export function tlsSection(port: number, cert: TestCert): string {
  return `tls:\n  listen: 127.0.0.1:${port}\n  redirect_http: false\n  certificates:\n    - { cert: ${cert.certFile}, key: ${cert.keyFile} }\n`;
}

/** A TLS listener ready to configure: its folder (the caller removes it), CA, certificate, port and `tls:` section. */
export interface TlsSite {
  dir: string;
  ca: TestCa;
  cert: TestCert;
  port: number;
  section: string;
}

/** A new folder named from `prefix` with a test CA and a leaf `site` for `names`, a free port, and the {@link tlsSection} serving it. */
export async function tlsSite(prefix: string, names: string[]): Promise<TlsSite> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const ca = makeCa(dir);
  const cert = issueCert(ca, 'site', names);
  const port = await freePort();
  return { dir, ca, cert, port, section: tlsSection(port, cert) };
}

/** What a handshake gave: the peer certificate's names and serial, the ALPN protocol, the TLS version. */
export interface Handshake {
  names: string;
  serial: string;
  alpn: string | false | null;
  version: string | null;
  reused: boolean;
}

export function handshake(port: number, opts: { host?: string; servername?: string; ca?: string; alpn?: string[]; session?: Buffer; maxVersion?: tls.SecureVersion; onSession?: (s: Buffer) => void } = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: opts.host ?? '127.0.0.1',
      port,
      ...(opts.servername === undefined ? {} : { servername: opts.servername }),
      ca: opts.ca,
      rejectUnauthorized: opts.ca !== undefined,
      ALPNProtocols: opts.alpn ?? ['http/1.1'],
      ...(opts.session === undefined ? {} : { session: opts.session }),
      ...(opts.maxVersion === undefined ? {} : { maxVersion: opts.maxVersion }),
      timeout: 5000,
    });
    socket.on('session', (s: Buffer) => opts.onSession?.(s));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      const result = { names: peer.subjectaltname ?? '', serial: peer.serialNumber, alpn: socket.alpnProtocol, version: socket.getProtocol(), reused: socket.isSessionReused() };
      // TLS 1.3 tickets come after the handshake: give them a moment.
      setTimeout(() => {
        socket.destroy();
        resolve(result);
      }, 50);
    });
    socket.once('timeout', () => socket.destroy(new Error('handshake timed out')));
    socket.once('error', reject);
  });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  trailers?: Record<string, string | string[] | undefined>;
}

/** One request over HTTPS/1.1. */
export function httpsRequest(port: number, ca: string, opts: { path?: string; method?: string; host?: string; headers?: Record<string, string>; body?: Buffer; agent?: https.Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: opts.host ?? 'localhost', ca, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: { host: opts.host ?? 'localhost', ...opts.headers }, agent: opts.agent ?? false, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An HTTP/2 session to Baton's TLS listener, trusting `ca`. */
export function h2Connect(port: number, ca: string, servername = 'localhost'): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${servername}:${port}`, { ca, servername, host: '127.0.0.1', port } as http2.SecureClientSessionOptions);
    // Ready once the server's SETTINGS arrived (its limits are in remoteSettings then).
    session.once('remoteSettings', () => {
      session.removeListener('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** One request on an HTTP/2 session. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
    stream.on('response', (h) => (head = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      clearTimeout(timer);
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), ...(trailers === undefined ? {} : { trailers }) });
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) stream.end(body);
  });
}
