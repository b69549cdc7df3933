import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { configYaml, startBaton, type RunningBaton, dispose } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';
import type { SwapEvent } from '../../src/control/protocol.js';

const CLIENTS = 32;
const DEPLOYS = 20;

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

interface Result {
  ok: boolean;
  why?: string;
  version?: string;
  start: number;
  end: number;
}

function once(agent: http.Agent, port: number, post: boolean): Promise<Result> {
  const start = performance.now();
  const body = post ? randomBytes(Math.floor(Math.random() * 32 * 1024)) : undefined;
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, agent, method: post ? 'POST' : 'GET', path: post ? '/echo' : '/version', headers: post ? { 'content-type': 'application/octet-stream', 'content-length': body!.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const end = performance.now();
          const version = String(res.headers['x-app-version']);
          const got = Buffer.concat(chunks);
          if (res.statusCode !== 200) return resolve({ ok: false, why: `status ${res.statusCode} ${got.toString().slice(0, 80)}`, start, end });
          if (post && Buffer.compare(got, body!) !== 0) return resolve({ ok: false, why: `echo differs (${got.length} vs ${body!.length} bytes)`, version, start, end });
          resolve({ ok: true, version, start, end });
        });
        res.on('error', (err) => resolve({ ok: false, why: `response error ${err.message}`, start, end: performance.now() }));
      },
    );
    req.on('error', (err) => resolve({ ok: false, why: `request error ${err.message}`, start, end: performance.now() }));
    req.end(body);
  });
}

/** The same load and deploys with one instance per version, and with three (all switched as one). */
const VARIANTS: Array<[string, string]> = [
  ['one instance', ''],
  ['replicas: 3', '\nreplicas: 3'],
];

describe.each(VARIANTS)('zero downtime (%s)', (variant, extra) => {
  it(`${CLIENTS} keep-alive clients see no failure across ${DEPLOYS} deploys, each answer from a version active during the request`, async () => {
    baton = await startBaton(configYaml({ web: { extra: `drain:\n  timeout: 10s\n  websocket_grace: 1s${extra}` } }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const results: Result[] = [];
    let running = true;
    const clients = Array.from({ length: CLIENTS }, async (_, i) => {
      let n = 0;
      // Bounded: stops when the deploys are done, or after 2 minutes at the most.
      const hardStop = performance.now() + 120_000;
      while (running && performance.now() < hardStop) results.push(await once(agent, baton!.port, (n++ + i) % 2 === 0));
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
    agent.destroy();

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
      if (process.env.BATON_TEST_DUMP !== undefined) await import('node:fs/promises').then((fs) => fs.writeFile(process.env.BATON_TEST_DUMP!, baton!.output()));
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(misrouted.slice(0, 5)).toEqual([]);
    expect(results.length).toBeGreaterThan(DEPLOYS * CLIENTS);
    expect(new Set(results.map((r) => r.version)).size).toBeGreaterThan(DEPLOYS / 2);
  });
});
