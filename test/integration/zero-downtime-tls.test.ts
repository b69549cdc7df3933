/**
 * The zero-downtime check (zero-downtime.test.ts) over TLS (issue 11): the same 32 keep-alive
 * clients, GETs and echoed POSTs, 20 deploys, over HTTPS/1.1 (one keep-alive TLS connection per
 * client) and over HTTP/2 (one session per client).
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import type http2 from 'node:http2';
import { configYaml, dispose, removeDir, type RunningBaton } from '../helpers/baton.js';
import { CLIENTS, DEPLOYS, zeroDowntime, type Send, type Transport } from '../helpers/zero-downtime.js';
import { h2Connect, h2Request, issueCert, makeCa, type TestCa } from '../helpers/tls.js';
import { freePort } from '../../src/runtime/free-port.js';

let dir: string;
let ca: TestCa;
let baton: RunningBaton | undefined;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-zd-tls-'));
  ca = makeCa(dir);
  issueCert(ca, 'site', ['localhost']);
});
afterAll(() => removeDir(dir));
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

function httpsTransport(port: number): Transport {
  const agent = new https.Agent({ keepAlive: true, maxSockets: CLIENTS, ca: ca.pem, servername: 'localhost' });
  const send: Send = (req) =>
    new Promise((resolve, reject) => {
      const r = https.request(
        { host: '127.0.0.1', port, agent, method: req.method, path: req.path, headers: { host: 'localhost', ...(req.body === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': req.body.length }) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, version: String(res.headers['x-app-version']), body: Buffer.concat(chunks) }));
          res.on('error', (err) => reject(new Error(`response error ${err.message}`)));
        },
      );
      r.on('error', (err) => reject(new Error(`request error ${err.message}`)));
      r.end(req.body);
    });
  return { client: () => send, close: () => agent.destroy() };
}

async function h2Transport(port: number): Promise<Transport> {
  const sessions: http2.ClientHttp2Session[] = await Promise.all(Array.from({ length: CLIENTS }, () => h2Connect(port, ca.pem)));
  return {
    client: (i) => async (req) => {
      const headers = { ':method': req.method, ':path': req.path, ...(req.body === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': String(req.body.length) }) };
      const r = await h2Request(sessions[i]!, headers, req.body);
      return { status: r.status, version: String(r.headers['x-app-version']), body: r.body };
    },
    close: () => {
      for (const s of sessions) s.close();
    },
  };
}

const VARIANTS: Array<[string, 'https' | 'h2']> = [
  ['HTTPS/1.1', 'https'],
  ['HTTP/2', 'h2'],
];

describe.each(VARIANTS)('zero downtime over %s', (variant, kind) => {
  it(`${CLIENTS} keep-alive clients see no failure across ${DEPLOYS} deploys, each answer from a version active during the request`, async () => {
    const tlsPort = await freePort();
    const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  redirect_http: false\n  certificates:\n    - { cert: ${path.join(dir, 'site.pem')}, key: ${path.join(dir, 'site.key')} }\n`;
    const yaml = configYaml({ web: { extra: 'drain:\n  timeout: 10s\n  websocket_grace: 1s' } }, top);
    await zeroDowntime(variant, yaml, () => (kind === 'https' ? httpsTransport(tlsPort) : h2Transport(tlsPort)), (b) => (baton = b));
  });
});
