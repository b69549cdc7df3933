import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import { ROOT, dispose, startBaton, type RunningBaton } from '../helpers/baton.js';
import { postgresBin, startPostgres, type Postgres } from '../helpers/postgres.js';
import { request as control } from '../../src/cli/client.js';
import type { SwapEvent } from '../../src/control/protocol.js';

/**
 * Migrations inside the hold, against a real PostgreSQL: v1 of the example app writes notes,
 * v2 needs the column its migration adds (examples/migrations). Under 16 writing clients, a
 * deploy holds, quiesces, migrates, switches: no write fails, none is lost.
 */
const available = postgresBin() !== undefined;
const mustRun = process.env.CI === 'true';
if (!available && !mustRun) console.log('[migrate] skipped: PostgreSQL is not installed (apt-get install postgresql); CI runs it');

const APP = path.join(ROOT, 'examples/migrations/app.js');
const MIGRATE = path.join(ROOT, 'examples/migrations/migrate.js');

let pg: Postgres;
let baton: RunningBaton | undefined;

describe.skipIf(!available && !mustRun)('migrations (PostgreSQL)', () => {
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });
  afterEach(async () => {
    await dispose(baton);
    baton = undefined;
    // A fresh table for the next test.
    await sql('DROP TABLE IF EXISTS notes');
  });

  async function sql(query: string): Promise<unknown[]> {
    const { default: Pg } = await import('pg');
    const client = new Pg.Client({ host: pg.socketDir, port: pg.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      return (await client.query(query)).rows;
    } finally {
      await client.end();
    }
  }

  /** The example app on the cluster, with its migration; `migrateHold` and `holdTimeout` as the test needs. */
  function service(opts: { migrateHold?: boolean; holdTimeout?: string } = {}): string {
    return [
      'listen: 127.0.0.1:0',
      'control:',
      '  socket: ./baton.sock',
      'services:',
      '  web:',
      '    version: v1',
      '    process:',
      `      command: ["node", ${JSON.stringify(APP)}]`,
      `      env: {PGHOST: ${JSON.stringify(pg.socketDir)}, PGPORT: "${pg.port}"}`,
      '    health: {interval: 50ms, deadline: 20s}',
      '    migrate:',
      `      command: ["node", ${JSON.stringify(MIGRATE)}]`,
      '      timeout: 30s',
      `      hold: ${opts.migrateHold ?? true}`,
      ...(opts.holdTimeout === undefined ? [] : [`    hold: {timeout: ${opts.holdTimeout}}`]),
      '',
    ].join('\n');
  }

  interface Write {
    status: number;
    id?: number;
    version?: string;
    retryAfter?: string;
  }

  function write(port: number, agent: http.Agent, client: number, seq: number): Promise<Write> {
    const body = JSON.stringify({ body: `note ${client}.${seq}`, client: String(client), seq });
    return new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/notes', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          const parsed = res.statusCode === 201 ? (JSON.parse(text) as { id: number; version: string }) : undefined;
          resolve({ status: res.statusCode!, id: parsed?.id, version: parsed?.version, retryAfter: res.headers['retry-after'] as string | undefined });
        });
      });
      req.on('error', () => resolve({ status: -1 }));
      req.end(body);
    });
  }

  /** 16 clients writing until `stop()`; returns every answer. */
  function writers(port: number): { stop: () => Promise<Write[]> } {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const results: Write[] = [];
    let running = true;
    const loops = Array.from({ length: 16 }, async (_, c) => {
      const hardStop = performance.now() + 60_000;
      for (let seq = 0; running && performance.now() < hardStop; seq++) results.push(await write(port, agent, c, seq));
    });
    return {
      stop: async () => {
        running = false;
        await Promise.all(loops);
        agent.destroy();
        return results;
      },
    };
  }

  async function deploy(b: RunningBaton, version: string): Promise<SwapEvent[]> {
    const events: SwapEvent[] = [];
    await control(b.socket, 'POST', '/v1/services/web/deploy', { version }, (e) => events.push(e));
    return events;
  }

  it('under 16 writing clients, a deploy holds, quiesces, migrates and switches: no write fails or is lost', async () => {
    baton = await startBaton(service());
    const load = writers(baton.port);
    await new Promise((r) => setTimeout(r, 500));
    const events = await deploy(baton, 'v2');
    await new Promise((r) => setTimeout(r, 500));
    const results = await load.stop();

    const steps = events.filter((e) => 'step' in e).map((e) => (e as { step: string }).step);
    expect(steps).toEqual(['start', 'healthy', 'hold', 'quiesce', 'migrate', 'switch', 'resume', 'notify', 'drain', 'stop']);
    const done = events.at(-1) as Extract<SwapEvent, { done: true; ok: true }>;
    expect(done).toMatchObject({ done: true, ok: true, version: 'v2' });
    const migrate = events.find((e) => 'step' in e && e.step === 'migrate') as Record<string, unknown>;
    expect(migrate).toMatchObject({ exit_code: 0 });
    expect(migrate.output).toContain('migration done');

    const failed = results.filter((r) => r.status !== 201);
    const acked = results.filter((r) => r.status === 201).map((r) => r.id!);
    const stored = new Set((await sql('SELECT id FROM notes')).map((r) => (r as { id: number }).id));
    const lost = acked.filter((id) => !stored.has(id));
    const v2 = results.filter((r) => r.version === 'v2').length;
    const authored = Number(((await sql("SELECT count(*) AS n FROM notes WHERE author = 'v2'")) as Array<{ n: string }>)[0]!.n);
    console.log(`[migrate] writes=${results.length} failed=${failed.length} lost=${lost.length} by_v2=${v2} hold_ms=${done.hold_ms}`);
    expect(failed.slice(0, 3)).toEqual([]);
    expect(lost).toEqual([]);
    expect(v2).toBeGreaterThan(0);
    // Every write v2 acknowledged carries the new column.
    expect(authored).toBe(v2);
    // The hold lasted about the migration (a second), not the whole deploy.
    expect(done.hold_ms).toBeGreaterThan(900);
    expect(done.hold_ms).toBeLessThan(10_000);
  });

  it('a failing migration ends the deploy at migrate with its output; the old version serves on, nothing lost', async () => {
    baton = await startBaton(service());
    const load = writers(baton.port);
    await new Promise((r) => setTimeout(r, 300));
    const events = await deploy(baton, 'v2-broken');
    await new Promise((r) => setTimeout(r, 300));
    const results = await load.stop();
    const done = events.at(-1) as Extract<SwapEvent, { done: true; ok: false }>;
    expect(done).toMatchObject({ done: true, ok: false, error: { step: 'migrate', code: 'MIGRATION_FAILED', exit_code: 1 } });
    expect((done.error.output as string[]).join('\n')).toContain('migration failed');
    const status = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { active: { version: string } } } };
    expect(status.services.web.active.version).toBe('v1');
    expect(results.filter((r) => r.status !== 201)).toEqual([]);
    const stored = new Set((await sql('SELECT id FROM notes')).map((r) => (r as { id: number }).id));
    expect(results.filter((r) => !stored.has(r.id!))).toEqual([]);
    // The CLI says so: exit 1, naming the step.
    const cli = await baton.cli('deploy', 'web', 'v2-broken');
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/migrate/);
  });

  it('a migration longer than hold.timeout: held requests get 503 with Retry-After at the bound; the deploy still completes', async () => {
    baton = await startBaton(service({ holdTimeout: '1s' }));
    const events = deploy(baton, 'v2-slow');
    // Wait for the hold, then send requests into it.
    for (let i = 0; i < 100; i++) {
      const s = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { state: string } } };
      if (s.services.web.state === 'migrating') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const agent = new http.Agent({ keepAlive: false });
    const started = performance.now();
    const held = await Promise.all(Array.from({ length: 4 }, (_, i) => write(baton!.port, agent, 99, i)));
    const waited = performance.now() - started;
    expect(held.map((r) => r.status)).toEqual([503, 503, 503, 503]);
    expect(held[0]!.retryAfter).toBe('1');
    expect(waited).toBeGreaterThan(800);
    expect(waited).toBeLessThan(2900);
    const all = await events;
    expect(all.at(-1)).toMatchObject({ done: true, ok: true, version: 'v2-slow' });
  });

  it('with migrate.hold false the migration runs before the hold, both versions serving', async () => {
    baton = await startBaton(service({ migrateHold: false }));
    const events = await deploy(baton, 'v2');
    const steps = events.filter((e) => 'step' in e).map((e) => (e as { step: string }).step);
    expect(steps).toEqual(['start', 'healthy', 'migrate', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop']);
  });
});
