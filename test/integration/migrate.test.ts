import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { dispose, startBaton, type RunningBaton } from '../helpers/baton.js';
import { expectMigratedWithoutLoss, processYaml, sql as query, stepsOf, tally, write, writers } from '../helpers/migrations.js';
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

  const sql = (text: string): Promise<unknown[]> => query(pg, text);

  const service = (opts: { migrateHold?: boolean; holdTimeout?: string } = {}): string => processYaml(pg, opts);

  async function deploy(b: RunningBaton, version: string, events: SwapEvent[] = []): Promise<SwapEvent[]> {
    await control(b.socket, 'POST', '/v1/services/web/deploy', { version }, (e) => events.push(e as SwapEvent));
    return events;
  }

  it('under 16 writing clients, a deploy holds, quiesces, migrates and switches: no write fails or is lost', async () => {
    baton = await startBaton(service());
    const load = writers(baton.port);
    await new Promise((r) => setTimeout(r, 500));
    const events = await deploy(baton, 'v2');
    await new Promise((r) => setTimeout(r, 500));
    const results = await load.stop();

    expect(stepsOf(events)).toEqual(['start', 'healthy', 'hold', 'quiesce', 'migrate', 'switch', 'resume', 'notify', 'drain', 'stop']);
    const done = events.at(-1) as Extract<SwapEvent, { done: true; ok: true }>;
    expect(done).toMatchObject({ done: true, ok: true, version: 'v2' });
    const migrate = events.find((e) => 'step' in e && e.step === 'migrate') as Record<string, unknown>;
    expect(migrate).toMatchObject({ exit_code: 0 });
    expect(migrate.output).toContain('migration done');

    const t = await tally(pg, results);
    console.log(`[migrate] writes=${t.writes} failed=${t.failed.length} lost=${t.lost.length} by_v2=${t.byNew} hold_ms=${done.hold_ms}`);
    expectMigratedWithoutLoss(t, done, events);
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
    const t = await tally(pg, results);
    console.log(`[migrate broken] writes=${t.writes} failed=${t.failed.length} lost=${t.lost.length} by_new=${t.byNew}`);
    expect(t.failed).toEqual([]);
    expect(t.lost).toEqual([]);
    expect(t.byNew).toBe(0);
    // The CLI says so: exit 1, naming the step.
    const cli = await baton.cli('deploy', 'web', 'v2-broken');
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/migrate/);
  });

  it('a migration longer than hold.timeout: held requests get 503 with Retry-After at the bound; the deploy still completes', async () => {
    const HOLD_TIMEOUT_MS = 1000;
    baton = await startBaton(service({ holdTimeout: `${HOLD_TIMEOUT_MS}ms` }));
    const seen: SwapEvent[] = [];
    const events = deploy(baton, 'v2-slow', seen);
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
    const stepsWhenAnswered = stepsOf(seen);
    console.log(`[migrate hold.timeout] held=${held.length} answered_503_after_ms=${waited.toFixed(0)} hold_timeout_ms=${HOLD_TIMEOUT_MS}`);
    expect(held.map((r) => r.status)).toEqual([503, 503, 503, 503]);
    expect(held[0]!.retryAfter).toBe('1');
    // Answered at the bound: not before hold.timeout, and while the migration (SLOW_MIGRATION_MS,
    // three times the bound) still ran, never held to its end.
    expect(waited).toBeGreaterThanOrEqual(HOLD_TIMEOUT_MS * 0.99);
    expect(stepsWhenAnswered).toContain('quiesce');
    expect(stepsWhenAnswered).not.toContain('migrate');
    const all = await events;
    expect(all.at(-1)).toMatchObject({ done: true, ok: true, version: 'v2-slow' });
    // The deploy says how many held requests the migration outlasted (the CLI prints it).
    expect(all.find((e) => 'step' in e && e.step === 'resume')).toMatchObject({ timed_out: 4 });
    const { formatEvent } = await import('../../src/cli/print.js');
    expect(formatEvent(all.find((e) => 'step' in e && e.step === 'resume')!)).toContain('4 answered 503 at hold.timeout');
  });

  it('a migration longer than the hold, under maintenance: requests get the maintenance answer, none waits out hold.timeout; off serves the new version', async () => {
    baton = await startBaton(service({ holdTimeout: '1s' }));
    const load = writers(baton.port);
    await new Promise((r) => setTimeout(r, 300));
    expect((await baton.cli('maintenance', 'web', 'on', '--message', 'Migrating the notes table')).code).toBe(0);
    const events = await deploy(baton, 'v2-slow');
    expect((await baton.cli('maintenance', 'web', 'off')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const results = await load.stop();

    expect(events.at(-1)).toMatchObject({ done: true, ok: true, version: 'v2-slow' });
    // Nothing reached the gate while it held: the maintenance answer came first.
    expect(events.find((e) => 'step' in e && e.step === 'resume')).toMatchObject({ released: 0 });
    const t = await tally(pg, results);
    const maintenance = t.failed.filter((r) => r.status === 503 && r.retryAfter === '30');
    console.log(`[migrate maintenance] writes=${t.writes} maintenance_503=${maintenance.length} other_failed=${t.failed.length - maintenance.length} lost=${t.lost.length} by_v2=${t.byNew}`);
    // No 503 of a held request timing out (Retry-After: 1), no error: only maintenance answers.
    expect(t.failed.filter((r) => !maintenance.includes(r)).slice(0, 3)).toEqual([]);
    expect(maintenance.length).toBeGreaterThan(0);
    expect(t.lost).toEqual([]);
    expect(t.byNew).toBeGreaterThan(0);
    expect(t.authored).toBe(t.byNew);
  });

  it('with migrate.hold false the migration runs before the hold, both versions serving', async () => {
    baton = await startBaton(service({ migrateHold: false }));
    const events = await deploy(baton, 'v2');
    expect(stepsOf(events)).toEqual(['start', 'healthy', 'migrate', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop']);
  });
});
