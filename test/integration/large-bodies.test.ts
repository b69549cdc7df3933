/**
 * Large answers through Baton's transport, which reads a large body into buffers it reuses once
 * their bytes have left for the client: no client may ever get bytes of another answer, or of a
 * later read, whatever its speed. Every answer is a pattern of its own (by seed), checked byte
 * for byte, while slow clients (whose bytes wait in Baton) and fast ones (whose buffers are
 * reused at once) download at the same time, over plain HTTP and over TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configYaml, dispose, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { issueCert, makeCa, type TestCa } from '../helpers/tls.js';
import { freePort } from '../../src/runtime/free-port.js';

/** Byte `i` of answer `seed`: seeds 0-255 differ at every offset. The app has it too. */
function byte(seed: number, i: number): number {
  return (i * 7 + seed * 131 + (i >>> 11) * 17) & 255;
}

// GET /pattern/SEED/SIZE: SIZE bytes of the seed's pattern, with Content-Length, or chunked
// (in 50,000-byte writes) with ?chunked.
const APP = String.raw`
import http from 'node:http';
${byte.toString()}
const made = new Map();
function pattern(seed, size) {
  const key = seed + '/' + size;
  let b = made.get(key);
  if (b === undefined) {
    b = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) b[i] = byte(seed, i);
    made.set(key, b);
  }
  return b;
}
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const m = /^\/pattern\/(\d+)\/(\d+)$/.exec(url.pathname);
  if (m === null) return res.end('ok');
  const body = pattern(Number(m[1]), Number(m[2]));
  if (!url.searchParams.has('chunked')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    return res.end(body);
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  let at = 0;
  const pump = () => {
    while (at < body.length) {
      const piece = body.subarray(at, at + 50000);
      at += piece.length;
      if (!res.write(piece)) return res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => process.exit(0));
`;

/** The first offset where `body` is not answer `seed` of `size` bytes, or -1. */
function firstWrongByte(body: Buffer, seed: number, size: number): number {
  if (body.length !== size) return Math.min(body.length, size);
  for (let i = 0; i < size; i++) if (body[i] !== byte(seed, i)) return i;
  return -1;
}

interface Client {
  get(path: string, agent: http.Agent | false, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest;
  agent(): http.Agent;
}

/**
 * Download answer `seed`. `slow`: stop reading for 300 ms after the first bytes, then for 5 ms
 * after every eighth chunk, so that what Baton writes waits in its socket.
 */
function download(client: Client, agent: http.Agent | false, seed: number, size: number, opts: { chunked?: boolean; slow?: boolean }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = client.get(`/pattern/${seed}/${size}${opts.chunked === true ? '?chunked' : ''}`, agent, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (opts.slow !== true) return;
        n++;
        const ms = n === 1 ? 300 : n % 8 === 0 ? 5 : 0;
        if (ms === 0) return;
        res.pause();
        setTimeout(() => res.resume(), ms);
      });
      res.on('end', () => resolve(res.statusCode === 200 ? firstWrongByte(Buffer.concat(chunks), seed, size) : -2));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Slow and fast downloads at once; each result is the first wrong offset (-1: intact). */
async function mixedLoad(client: Client): Promise<number[]> {
  const slow = [
    download(client, false, 1, 8 << 20, { slow: true }),
    download(client, false, 2, 8 << 20, { slow: true }),
    download(client, false, 3, 6 << 20, { slow: true, chunked: true }),
  ];
  const fast = [10, 20, 30, 40].map(async (base) => {
    // Keep-alive: the same client and upstream connections carry one answer after another.
    const agent = client.agent();
    const results: number[] = [];
    for (let i = 0; i < 6; i++) results.push(await download(client, agent, base + i, (1 << 20) + i * 4099, { chunked: i % 2 === 1 }));
    agent.destroy();
    return results;
  });
  return [...(await Promise.all(slow)), ...(await Promise.all(fast)).flat()];
}

let dir: string;
let ca: TestCa;
let baton: RunningBaton;
let tlsPort: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'baton-large-'));
  await writeFile(path.join(dir, 'app.mjs'), APP);
  ca = makeCa(dir);
  issueCert(ca, 'site', ['localhost']);
  tlsPort = await freePort();
  const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  redirect_http: false\n  certificates:\n    - { cert: ${path.join(dir, 'site.pem')}, key: ${path.join(dir, 'site.key')} }\n`;
  baton = await startBaton(configYaml({ web: { command: ['node', path.join(dir, 'app.mjs')] } }, top), { dir });
});
afterAll(async () => {
  await dispose(baton);
  await removeDir(dir);
});

describe('large answers', () => {
  it('reach fast and slow clients at once intact, with Content-Length and chunked', async () => {
    const client: Client = {
      get: (p, agent, onResponse) => http.get({ host: '127.0.0.1', port: baton.port, path: p, agent }, onResponse),
      agent: () => new http.Agent({ keepAlive: true, maxSockets: 1 }),
    };
    const results = await mixedLoad(client);
    expect(results).toEqual(results.map(() => -1));
  });

  it('reach fast and slow clients at once intact over HTTPS/1.1', async () => {
    const client: Client = {
      get: (p, agent, onResponse) =>
        https.get({ host: '127.0.0.1', port: tlsPort, servername: 'localhost', ca: ca.pem, path: p, headers: { host: 'localhost' }, agent: agent as https.Agent | false }, onResponse),
      agent: () => new https.Agent({ keepAlive: true, maxSockets: 1 }),
    };
    const results = await mixedLoad(client);
    expect(results).toEqual(results.map(() => -1));
  });
});
