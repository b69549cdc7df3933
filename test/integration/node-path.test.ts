import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, configYaml, dispose, startBaton, type RunningBaton } from '../helpers/baton.js';
import { rawExchange } from '../helpers/raw.js';

/**
 * The connections Baton's own parser declines go to node:http (llhttp), whose reading Baton then
 * trusts. What the end-to-end differential replay (test/integration/differential.test.ts) found
 * there, each on a raw socket: `Expect: 100-continue` (which Baton's parser declines) puts a
 * connection on that path. The app records what reached it, in order, with timings. Last, what
 * the replay found on Baton's own connections.
 */
const APP = path.join(ROOT, 'test/fixtures/ordered-app.js');
/** A raw TCP app that logs the request line of every head it reads (test/fixtures/raw-app.js). */
const RAW_APP = path.join(ROOT, 'test/fixtures/raw-app.js');

interface Seen {
  method: string;
  url: string;
  headers: string[];
  body: string;
  arrived: number;
  answered: number;
  upgrade?: boolean;
}

let baton: RunningBaton | undefined;
beforeAll(async () => {
  baton = await startBaton(configYaml({ raw: { hosts: ['raw.test'], command: ['node', RAW_APP] }, app: { command: ['node', APP] } }));
});
afterAll(async () => {
  await dispose(baton);
});

async function log(): Promise<Seen[]> {
  const r = await fetch(`${baton!.url}/__log`);
  return (await r.json()) as Seen[];
}

/** The request lines the raw app read. */
async function rawLog(): Promise<string[]> {
  const r = await rawExchange(baton!.port, ['GET /__log HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\n']);
  return JSON.parse(r.reply.slice(r.reply.indexOf('\r\n\r\n') + 4)) as string[];
}

/** What reached the app for `tag` (a unique path prefix per test). */
async function seenFor(tag: string): Promise<Seen[]> {
  return (await log()).filter((s) => s.url.startsWith(`/${tag}`));
}

describe('node:http connections', () => {
  it('a chunked request with a framing field as a trailer is refused, and Baton keeps serving', async () => {
    const r = await rawExchange(baton!.port, ['POST /trailer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nTransfer-Encoding:\r\n\r\n']);
    expect(r.reply).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 400 /);
    expect(baton!.proc.exitCode).toBe(null);
    expect((await fetch(`${baton!.url}/after-trailer`)).status).toBe(200);
  });

  it('a Transfer-Encoding that names no coding frames no body, as llhttp reads it', async () => {
    await rawExchange(baton!.port, ['POST /empty-te HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding:\r\nConnection: close\r\n\r\n']);
    const seen = await seenFor('empty-te');
    // llhttp 9.3 (Node 20) reads no body there; 9.4 (Node 24) refuses the field.
    if (process.versions.llhttp?.startsWith('9.3.') === true) expect(seen).toHaveLength(1);
    for (const s of seen) expect(s.headers.map((h) => h.toLowerCase())).not.toContain('transfer-encoding');
  });

  it('a request pipelined behind an HTTP/1.1 one without Host is not forwarded', async () => {
    const r = await rawExchange(baton!.port, ['GET /no-host HTTP/1.1\r\n\r\nGET /behind-no-host HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.reply.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
    expect(r.closed).toBe(true);
    expect(await seenFor('behind-no-host')).toEqual([]);
  });

  it('a pipelined request reaches the app only once the answer before it has gone out', async () => {
    await rawExchange(baton!.port, ['POST /order-first?delay=300 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhiGET /order-second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    const [first, second] = await seenFor('order-');
    expect(first?.url).toBe('/order-first?delay=300');
    expect(second?.url).toBe('/order-second');
    expect(second!.arrived).toBeGreaterThanOrEqual(first!.answered);
  });

  it('bytes llhttp refuses behind a request still being answered are refused after its answer, not in its place', async () => {
    const r = await rawExchange(baton!.port, ['GET /refused-behind?delay=200 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\nGET /b HTTP/1.1\r\nBad Header: 1\r\n\r\n']);
    const statuses = [...r.reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toEqual(['100', '200', '400']);
    expect(r.reply).toContain('GET /refused-behind?delay=200');
  });

  it('an upgrade pipelined behind a request still being answered is refused after its answer', async () => {
    const r = await rawExchange(baton!.port, ['GET /upgrade-behind?delay=200 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\nGET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n']);
    const statuses = [...r.reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toEqual(['100', '200', '400']);
  });

  it('a CONNECT pipelined behind a request still being answered gets 405 after that answer', async () => {
    const r = await rawExchange(baton!.port, ['GET /connect-behind?delay=200 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\nCONNECT x.test:443 HTTP/1.1\r\nHost: x.test:443\r\n\r\n']);
    const statuses = [...r.reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toEqual(['100', '200', '405']);
  });

  it('a refusal of a HEAD request carries no body', async () => {
    const r = await rawExchange(baton!.port, ['HEAD /head-upgrade HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n']);
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.reply.endsWith('\r\n\r\n')).toBe(true);
  });

  it('chunked applied more than once, over two Transfer-Encoding lines, is refused', async () => {
    // llhttp 9.3 (Node 20) takes `chunked<HTAB>` then `gzip, chunked`; node:http joins them to
    // `chunked, gzip, chunked`. The raw app shows what Baton forwarded (a node:http app would
    // refuse that list itself).
    const r = await rawExchange(baton!.port, ['POST /chunked-twice HTTP/1.1\r\nHost: raw.test\r\nTransfer-Encoding: chunked\t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n']);
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 /);
    expect((await rawLog()).filter((l) => l.includes('/chunked-twice'))).toEqual([]);
  });

  it('a WebSocket handshake with a body is refused, not passed on without it', async () => {
    const r = await rawExchange(baton!.port, [
      'GET /ws-body HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 4\r\n\r\nabcd',
    ]);
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(await seenFor('ws-body')).toEqual([]);
  });

  it('a transfer coding is forwarded as llhttp read it, not trimmed of bytes that are not whitespace', async () => {
    // 0xA0 is no HTTP whitespace: `\xa0gzip` names no coding the app knows, and must not become gzip.
    await rawExchange(baton!.port, [Buffer.from('POST /nbsp-coding HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: \xa0gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n', 'latin1')]);
    const [seen] = await seenFor('nbsp-coding');
    const te = seen?.headers.findIndex((h) => h.toLowerCase() === 'transfer-encoding') ?? -1;
    expect(seen?.headers[te + 1]).toBe('\xa0gzip, chunked');
  });
});

describe("Baton's own connections", () => {
  it('a refusal of a HEAD request line carries no body', async () => {
    // No version: an HTTP/0.9 request line, which llhttp takes and Baton refuses with 505.
    const r = await rawExchange(baton!.port, ['HEAD /x\r\nHost: x\r\n\r\n']);
    expect(r.reply).toMatch(/^HTTP\/1\.1 505 /);
    expect(r.reply.endsWith('\r\n\r\n')).toBe(true);
  });
});
