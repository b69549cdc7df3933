/**
 * The zero-downtime check shared by test/integration/zero-downtime*.test.ts: CLIENTS keep-alive
 * clients send GETs and echoed POSTs while DEPLOYS deploys run; no request may fail and each
 * answer must come from a version active during the request. How a request is sent (HTTP/1.1,
 * HTTPS/1.1, HTTP/2) is the caller's `Transport`.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startBaton, type RunningBaton } from './baton.js';
import { request as control } from '../../src/cli/client.js';
import type { SwapEvent } from '../../src/control/protocol.js';

export const CLIENTS = 32;
export const DEPLOYS = 20;

export interface Result {
  ok: boolean;
  why?: string;
  version?: string;
  start: number;
  end: number;
}

/** What a request looks like to its transport, and what came back. */
export interface Exchange {
  method: 'GET' | 'POST';
  path: string;
  body: Buffer | undefined;
}
export interface Reply {
  status: number;
  version: string;
  body: Buffer;
}

/** Sends one request; rejects on a transport failure. */
export type Send = (req: Exchange) => Promise<Reply>;

/** One sender per client (its own keep-alive connection or session), closed at the end. */
export interface Transport {
  client(index: number): Send;
  close(): void;
}

/** The original transport: node:http with a keep-alive agent, CLIENTS sockets. */
export function httpTransport(port: number): Transport {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const send: Send = (req) =>
    new Promise((resolve, reject) => {
      const r = http.request(
        { host: '127.0.0.1', port, agent, method: req.method, path: req.path, headers: req.body === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': req.body.length } },
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

async function once(send: Send, post: boolean): Promise<Result> {
  const start = performance.now();
  const body = post ? randomBytes(Math.floor(Math.random() * 32 * 1024)) : undefined;
  try {
    const r = await send({ method: post ? 'POST' : 'GET', path: post ? '/echo' : '/version', body });
    const end = performance.now();
    if (r.status !== 200) return { ok: false, why: `status ${r.status} ${r.body.toString().slice(0, 80)}`, start, end };
    if (post && Buffer.compare(r.body, body!) !== 0) return { ok: false, why: `echo differs (${r.body.length} vs ${body!.length} bytes)`, version: r.version, start, end };
    return { ok: true, version: r.version, start, end };
  } catch (err) {
    return { ok: false, why: (err as Error).message, start, end: performance.now() };
  }
}

/**
 * Start Baton on `yaml`, load it through `transport(baton)` and deploy DEPLOYS times; assert no
 * failure and no answer from a version outside its request's time. `started` gets Baton as soon
 * as it serves, so the caller disposes of it whatever happens.
 */
export async function zeroDowntime(variant: string, yaml: string, transport: (baton: RunningBaton) => Transport | Promise<Transport>, started: (baton: RunningBaton) => void): Promise<void> {
  const baton = await startBaton(yaml);
  started(baton);
  const t = await transport(baton);
  const results: Result[] = [];
  let running = true;
  const clients = Array.from({ length: CLIENTS }, async (_, i) => {
    const send = t.client(i);
    let n = 0;
    // Bounded: stops when the deploys are done, or after 2 minutes at the most.
    const hardStop = performance.now() + 120_000;
    while (running && performance.now() < hardStop) results.push(await once(send, (n++ + i) % 2 === 0));
  });

  // Version k+1 becomes active within deploy k: [starts[k], ends[k]].
  const starts: number[] = [];
  const ends: number[] = [];
  const holds: number[] = [];
  await new Promise((r) => setTimeout(r, 300));
  for (let k = 0; k < DEPLOYS; k++) {
    starts.push(performance.now());
    const reply = await control(baton.socket, 'POST', '/v1/services/web/deploy', { version: `v${k + 2}` });
    ends.push(performance.now());
    const done = reply.body as Extract<SwapEvent, { done: true }>;
    expect(done, JSON.stringify(done)).toMatchObject({ done: true, ok: true, version: `v${k + 2}` });
    if (done.ok) holds.push(done.hold_ms);
  }
  await new Promise((r) => setTimeout(r, 300));
  running = false;
  await Promise.all(clients);
  t.close();

  const failures = results.filter((r) => !r.ok);
  // A version was active from the start of the deploy that switched to it until the end of the next one.
  const misrouted = results.filter((r) => {
    if (!r.ok) return false;
    const j = Number(r.version!.slice(1)); // v1 .. v21
    const from = j === 1 ? -Infinity : starts[j - 2]!;
    const to = j - 1 < DEPLOYS ? ends[j - 1]! : Infinity;
    return !(r.end >= from && r.start <= to);
  });
  holds.sort((a, b) => a - b);
  console.log(
    `[zero-downtime ${variant}] requests=${results.length} failures=${failures.length} misrouted=${misrouted.length} swaps=${DEPLOYS} ` +
      `hold_ms median=${holds[Math.floor(holds.length / 2)]} max=${holds.at(-1)}` +
      (failures.length > 0 ? ` first failures: ${JSON.stringify(failures.slice(0, 3).map((f) => f.why))}` : ''),
  );
  if (failures.length > 0) {
    console.log(baton.output().split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(0, 10).join('\n'));
    if (process.env.BATON_TEST_DUMP !== undefined) await import('node:fs/promises').then((fs) => fs.writeFile(process.env.BATON_TEST_DUMP!, baton.output()));
  }
  expect(failures.slice(0, 5)).toEqual([]);
  expect(misrouted.slice(0, 5)).toEqual([]);
  expect(results.length).toBeGreaterThan(DEPLOYS * CLIENTS);
  expect(new Set(results.map((r) => r.version)).size).toBeGreaterThan(DEPLOYS / 2);
}
