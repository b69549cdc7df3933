import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { configYaml, startBaton, type RunningBaton, dispose } from '../helpers/baton.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

interface Timed {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

function request(port: number, path: string, signal?: AbortSignal): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, signal }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, ms: performance.now() - started }));
    });
    req.on('error', reject);
  });
}

async function status(b: RunningBaton): Promise<{ state: string; queued: number }> {
  return JSON.parse((await b.cli('status', '--json')).stdout).services.web;
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('hold gate', () => {
  it('held requests wait while paused and are released in arrival order on resume', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('pause', 'web')).code).toBe(0);
    const pending: Array<Promise<Timed>> = [];
    for (let i = 0; i < 8; i++) {
      pending.push(request(baton.port, '/version'));
      await sleep(15);
    }
    await until(async () => (await status(baton!)).queued === 8);
    expect((await status(baton)).state).toBe('paused');
    const resumed = await baton.cli('resume', 'web');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('8 held requests released');
    const answers = await Promise.all(pending);
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    // Request ids are given at dispatch: their counters show the order they were released in.
    const order = answers.map((a) => parseInt(String(a.headers['x-request-id']).split('-')[1]!, 36));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('a pause with a timeout resumes by itself', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('pause', 'web', '--timeout', '600ms')).code).toBe(0);
    const a = await request(baton.port, '/version');
    expect(a.status).toBe(200);
    expect(a.ms).toBeGreaterThan(300);
    expect((await status(baton)).state).toBe('serving');
  });

  it('a request held longer than hold.timeout gets 503 with Retry-After', async () => {
    baton = await startBaton(configYaml({ web: { extra: 'hold:\n  timeout: 300ms' } }));
    await baton.cli('pause', 'web');
    const a = await request(baton.port, '/version');
    expect(a.status).toBe(503);
    expect(a.headers['retry-after']).toBeDefined();
    expect(a.headers['x-baton-error']).toBe('hold_timeout');
    expect(a.ms).toBeGreaterThanOrEqual(280);
  });

  it('past hold.max_queued new requests get 503 at once', async () => {
    baton = await startBaton(configYaml({ web: { extra: 'hold:\n  max_queued: 2' } }));
    await baton.cli('pause', 'web');
    const held = [request(baton.port, '/version'), request(baton.port, '/version')];
    await until(async () => (await status(baton!)).queued === 2);
    const over = await request(baton.port, '/version');
    expect(over.status).toBe(503);
    expect(over.headers['x-baton-error']).toBe('hold_overflow');
    expect(over.ms).toBeLessThan(200);
    await baton.cli('resume', 'web');
    expect((await Promise.all(held)).map((a) => a.status)).toEqual([200, 200]);
  });

  it('a client that disconnects while held leaves the queue and is never forwarded', async () => {
    baton = await startBaton(configYaml({ web: { version: 'count1' } }));
    const count = async (): Promise<number> => JSON.parse((await request(baton!.port, '/count')).body).count;
    const before = await count();
    await baton.cli('pause', 'web');
    const ac = new AbortController();
    const gone = request(baton.port, '/gone', ac.signal).catch((e: Error) => e);
    await until(async () => (await status(baton!)).queued === 1);
    ac.abort();
    await gone;
    await until(async () => (await status(baton!)).queued === 0);
    const resumed = await baton.cli('resume', 'web');
    expect(resumed.stdout).toContain('0 held requests released');
    await sleep(100);
    expect(await count()).toBe(before);
  });

  it('the health path answers 200 on the public listener while held', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await baton.cli('pause', 'web');
    const a = await request(baton.port, '/healthz');
    expect(a.status).toBe(200);
    expect(a.ms).toBeLessThan(200);
    const other = request(baton.port, '/version');
    await until(async () => (await status(baton!)).queued === 1);
    await baton.cli('resume', 'web');
    expect((await other).status).toBe(200);
  });

  it('a malformed pause timeout is refused with exit 2 naming it', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const r = await baton.cli('pause', 'web', '--timeout', 'soon');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('soon');
    expect((await status(baton)).state).toBe('serving');
  });
});
