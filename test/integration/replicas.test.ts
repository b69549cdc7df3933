import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { configYaml, dispose, startBaton, type RunningBaton, metricsText } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';
import type { ReplicaStatus as Replica } from '../../src/service-status.js';

/**
 * Replicas of a version: load balanced, health-checked while they serve (active and passive),
 * and replaced when they die. The `replica` mode of the fixture app says which instance answered.
 */
let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});


async function replicas(b: RunningBaton): Promise<Replica[]> {
  const r = await control(b.socket, 'GET', '/v1/status');
  return (r.body as { services: { web: { replicas: Replica[] } } }).services.web.replicas;
}

function whoami(port: number, agent: http.Agent | false = false, delayMs = 0): Promise<{ status: number; pid?: number }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: delayMs === 0 ? '/whoami' : `/whoami?delay=${delayMs}`, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? { status: 200, pid: (JSON.parse(body) as { pid: number }).pid } : { status: res.statusCode ?? 0 }));
    });
    req.on('error', () => resolve({ status: -1 }));
  });
}

function echo(port: number, agent: http.Agent, text: string, delayMs: number): Promise<{ status: number }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: `/echo?delay=${delayMs}`, method: 'POST', agent, headers: { 'content-length': Buffer.byteLength(text) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode === 200 && body === text ? 200 : (res.statusCode ?? 0) }));
    });
    req.on('error', () => resolve({ status: -1 }));
    req.end(text);
  });
}

/** The value of metric `name` for the instance at `address`, if it has one. */
function metricValue(text: string, name: string, address: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`address="${address}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error('condition not met in time');
    await sleep(50);
  }
}

const HEALTH = 'interval: 50ms\ndeadline: 10s\ninterval_running: 100ms\nunhealthy_threshold: 2\nhealthy_threshold: 1';

describe('replicas', () => {
  it('spreads requests over every instance (least in flight, ties in turn)', async () => {
    baton = await startBaton(configYaml({ web: { version: 'replica1', health: HEALTH, extra: 'replicas: 3' } }));
    const rs = await replicas(baton);
    expect(rs).toHaveLength(3);
    expect(rs.map((r) => [r.crashes_in_a_row, r.restart_at])).toEqual([[0, null], [0, null], [0, null]]);
    const pids = new Map<number, number>();
    for (let i = 0; i < 60; i++) {
      const r = await whoami(baton.port);
      pids.set(r.pid!, (pids.get(r.pid!) ?? 0) + 1);
    }
    expect(pids.size).toBe(3);
    for (const n of pids.values()) expect(n).toBeGreaterThanOrEqual(10);
  });

  it('round_robin sends each instance its turn', async () => {
    baton = await startBaton(configYaml({ web: { version: 'replica1', health: HEALTH, extra: 'replicas: 3\nload_balancing: round_robin' } }));
    const seen: number[] = [];
    for (let i = 0; i < 30; i++) seen.push((await whoami(baton.port)).pid!);
    const counts = [...new Set(seen)].map((p) => seen.filter((x) => x === p).length);
    expect(counts).toEqual([10, 10, 10]);
  });

  it('kill -9 of one instance under load: only requests in flight on it may fail, bodiless ones are retried; it is replaced', async () => {
    baton = await startBaton(configYaml({ web: { version: 'replica1', health: HEALTH, extra: 'replicas: 3' } }));
    const before = await replicas(baton);
    const victim = before[1]!;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    // Slow answers (DELAY_MS), so that what is in flight on the victim when status is read is
    // still in flight a moment later, at the kill. Half GET (bodiless: retried), half POST.
    const DELAY_MS = 150;
    const results: Array<{ method: string; status: number }> = [];
    let running = true;
    let started = 0;
    const load = Array.from({ length: 16 }, async (_, c) => {
      const stop = performance.now() + 20_000;
      const post = c % 2 === 1;
      while (running && performance.now() < stop) {
        started++;
        const r = post ? await echo(baton!.port, agent, `client ${c}`, DELAY_MS) : await whoami(baton!.port, agent, DELAY_MS);
        results.push({ method: post ? 'POST' : 'GET', status: r.status });
      }
    });
    await sleep(500);
    // What was in flight on the victim at the kill: what status saw on it, plus at most the
    // requests started between asking status and the kill (any of them may have gone to it).
    const startedBeforeStatus = started;
    const inflightAtStatus = (await replicas(baton)).find((r) => r.id === victim.id)!.inflight;
    process.kill(Number(victim.id), 'SIGKILL');
    const startedSinceStatus = started - startedBeforeStatus;
    const inflightAtKill = inflightAtStatus + startedSinceStatus;
    const replaced = await until(async () => {
      const now = await replicas(baton!);
      const fresh = now.find((r) => r.restarts === 1);
      return fresh !== undefined && fresh.healthy ? now : undefined;
    });
    await sleep(500);
    running = false;
    await Promise.all(load);
    agent.destroy();
    const failed = results.filter((r) => r.status !== 200);
    const failedGets = failed.filter((r) => r.method === 'GET').length;
    console.log(
      `[replicas kill -9] requests=${results.length} in_flight_on_victim_at_kill<=${inflightAtKill} (status ${inflightAtStatus} + ${startedSinceStatus} started since) failed=${failed.length} (GET ${failedGets}, POST ${failed.length - failedGets})`,
    );
    expect(inflightAtStatus, 'the check needs requests in flight on the victim').toBeGreaterThan(0);
    // At most what was in flight on the killed instance; of those, the bodiless ones went elsewhere.
    expect(failed.length).toBeLessThanOrEqual(inflightAtKill);
    expect(failedGets).toBe(0);
    expect(replaced.map((r) => r.id)).not.toContain(victim.id);
    expect(replaced).toHaveLength(3);
    // The fresh instance serves.
    const pids = new Set<number>();
    for (let i = 0; i < 30; i++) pids.add((await whoami(baton.port)).pid!);
    expect(pids.size).toBe(3);
    expect(pids.has(Number(victim.id))).toBe(false);
    // Metrics per instance: each of the three is up, the fresh one counts its restart.
    const metrics = await metricsText(baton);
    const fresh = replaced.find((r) => r.restarts === 1)!;
    for (const r of replaced) {
      expect(metricValue(metrics, 'baton_instance_up', r.address)).toBe(1);
      expect(metricValue(metrics, 'baton_instance_inflight_requests', r.address)).toBe(0);
      expect(metricValue(metrics, 'baton_instance_restarts', r.address)).toBe(r === fresh ? 1 : 0);
    }
    expect(metricValue(metrics, 'baton_instance_up', victim.address)).toBeUndefined();
  });

  it('an instance failing its running health check leaves the rotation, then rejoins', async () => {
    baton = await startBaton(configYaml({ web: { version: 'replica1', health: HEALTH, extra: 'replicas: 2' } }));
    const [sick, well] = await replicas(baton);
    await fetch(`http://${sick!.address}/health/fail`, { method: 'POST' });
    await until(async () => ((await replicas(baton!)).find((r) => r.id === sick!.id)!.healthy ? undefined : true));
    for (let i = 0; i < 20; i++) expect((await whoami(baton.port)).pid).toBe(Number(well!.id));
    const status = await control(baton.socket, 'GET', '/v1/status');
    expect((status.body as { services: { web: { healthy: boolean } } }).services.web.healthy).toBe(false);
    await fetch(`http://${sick!.address}/health/ok`, { method: 'POST' });
    await until(async () => ((await replicas(baton!)).find((r) => r.id === sick!.id)!.healthy ? true : undefined));
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) pids.add((await whoami(baton.port)).pid!);
    expect(pids.size).toBe(2);
  });

  it('with every instance out of the rotation, requests get 502 at once instead of waiting', async () => {
    // What "waiting" would be: held to hold.timeout. "At once" is bounded generously against it.
    const HOLD_TIMEOUT_MS = 8000;
    baton = await startBaton(configYaml({ web: { version: 'replica1', health: HEALTH, extra: `replicas: 2\nhold:\n  timeout: ${HOLD_TIMEOUT_MS}ms` } }));
    for (const r of await replicas(baton)) await fetch(`http://${r.address}/health/fail`, { method: 'POST' });
    await until(async () => ((await replicas(baton!)).every((r) => !r.healthy) ? true : undefined));
    const started = performance.now();
    expect((await whoami(baton.port)).status).toBe(502);
    expect(performance.now() - started).toBeLessThan(HOLD_TIMEOUT_MS / 8);
  });

  it('a version that keeps crashing is replaced after a growing backoff, never in a tight loop; status and the log say so', async () => {
    // Healthy, then exits 7 after DIE_AFTER_MS: every replacement crashes the same way.
    baton = await startBaton(configYaml({ web: { version: 'dieafter1', env: { DIE_AFTER_MS: '300' } } }));
    type Line = { msg: string; time: number; restart_in_ms?: number; crashes_in_a_row?: number; restarts?: number; code?: number };
    const lines = (): Line[] =>
      baton!
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line);
    const crashes = (): Line[] => lines().filter((l) => l.msg === 'instance exited; replacing it');
    await until(async () => (crashes().length >= 3 ? true : undefined), 30_000);
    // Between the third crash and its replacement (4 s away), status shows the slot down, with its restarts.
    const [slot] = await replicas(baton);
    const seen = crashes();
    console.log(`[replicas crash loop] restart_in_ms=${seen.map((l) => l.restart_in_ms).join(',')} restarts_in_status=${slot!.restarts}`);
    expect(seen.slice(0, 3).map((l) => [l.restart_in_ms, l.crashes_in_a_row, l.code])).toEqual([
      [1000, 1, 7],
      [2000, 2, 7],
      [4000, 3, 7],
    ]);
    expect(slot).toMatchObject({ healthy: false, restarts: 2, crashes_in_a_row: 3 });
    // When the replacement is due: the third crash's backoff after it (Baton's clock both times).
    const due = Date.parse(slot!.restart_at!) - seen[2]!.time;
    expect(due).toBeGreaterThanOrEqual(seen[2]!.restart_in_ms!);
    expect(due).toBeLessThan(2 * seen[2]!.restart_in_ms!);
    const cli = await baton.cli('status');
    expect(cli.stdout).toMatch(/^web: the instance at \S+ exited \(3 crashes in a row\); replaced in /m);
    const status = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { healthy: boolean } } };
    expect(status.services.web.healthy).toBe(false);
    // Each replacement waited its backoff after the crash that called for it (Baton's own log times).
    const replacedAt = lines().filter((l) => l.msg === 'instance replaced').map((l) => l.time);
    expect(replacedAt.length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 2; i++) expect(replacedAt[i]! - seen[i]!.time).toBeGreaterThanOrEqual(seen[i]!.restart_in_ms!);
  });

  it('a lone instance killed with kill -9 is replaced: the service answers again without a deploy', async () => {
    baton = await startBaton(configYaml({ web: { version: 'replica1', health: HEALTH } }));
    const [only] = await replicas(baton);
    process.kill(Number(only!.id), 'SIGKILL');
    const fresh = await until(async () => {
      const [r] = await replicas(baton!);
      return r !== undefined && r.id !== only!.id && r.healthy ? r : undefined;
    });
    expect(fresh.restarts).toBe(1);
    expect((await whoami(baton.port)).pid).toBe(Number(fresh.id));
  });
});
