import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dispose, metricsText, startBaton, type RunningBaton } from '../helpers/baton.js';
import { processYaml, sql as query, stepsOf, write } from '../helpers/migrations.js';
import { postgresBin, startPostgres, type Postgres } from '../helpers/postgres.js';
import { request as control } from '../../src/cli/client.js';
import type { StatusBody, SwapEvent } from '../../src/control/protocol.js';

/**
 * Canaries of a service that migrates (issues 12 and 13), against a real PostgreSQL
 * (examples/migrations: v2 writes the column its migration adds). A migration inside the hold is
 * for a change the old version cannot live with, so a canary, which serves both versions at
 * once, is refused; with `migrate.hold: false` the migration runs before the canary takes its
 * first request, and the promote does not run it again.
 */
const available = postgresBin() !== undefined;
const mustRun = process.env.CI === 'true';
if (!available && !mustRun) console.log('[canary-migrate] skipped: PostgreSQL is not installed (apt-get install postgresql); CI runs it');

let pg: Postgres;
let baton: RunningBaton | undefined;

type Done = Extract<SwapEvent, { done: true }>;
type WebStatus = StatusBody['services'][string];

describe.skipIf(!available && !mustRun)('canary deploys of a service that migrates (PostgreSQL)', () => {
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });
  afterEach(async () => {
    await dispose(baton);
    baton = undefined;
    await query(pg, 'DROP TABLE IF EXISTS notes');
  });

  const status = async (b: RunningBaton): Promise<WebStatus> => ((await control(b.socket, 'GET', '/v1/status')).body as StatusBody).services.web!;
  const authorColumn = async (): Promise<number> => (await query(pg, "SELECT 1 FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'author'")).length;

  /** One note written by a client that carries `cookie` (the canary's side, when it names it). */
  const writeAs = (port: number, cookie: string, seq: number): Promise<{ status: number; version?: string }> => write(port, false, 7, seq, { cookie });

  async function migrations(b: RunningBaton): Promise<number> {
    const text = await metricsText(b);
    const line = text.split('\n').find((l) => l.startsWith('baton_migrations_total{service="web",outcome="ok"}'));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  it('deploy --canary of a service migrating inside the hold is refused with 409 before anything starts', async () => {
    baton = await startBaton(processYaml(pg));
    const before = await status(baton);
    const r = await control(baton.socket, 'POST', '/v1/services/web/deploy', { version: 'v2', canary: 10 });
    expect(r.status).toBe(409);
    const error = (r.body as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('MIGRATION_NEEDS_HOLD');
    expect(error.message).toContain('migrate.hold');
    const after = await status(baton);
    expect(after).toMatchObject({ state: 'serving', canary: null, active: { version: 'v1' }, swapping: null });
    expect(after.replicas.map((x) => x.id)).toEqual(before.replicas.map((x) => x.id));
    expect(await authorColumn()).toBe(0);
    expect(await migrations(baton)).toBe(0);
    // The CLI says why: exit 1, naming the setting.
    const cli = await baton.cli('deploy', 'web', 'v2', '--canary', '10');
    expect(cli.code).toBe(1);
    expect(cli.stdout + cli.stderr).toMatch(/migrate\.hold/);
    // A plain deploy of the same version is what it says to do, and works.
    const plain = await control(baton.socket, 'POST', '/v1/services/web/deploy', { version: 'v2' });
    expect(plain.body).toMatchObject({ done: true, ok: true, version: 'v2' });
  });

  it('with migrate.hold false, the migration runs before the canary takes a request; the promote does not run it again', async () => {
    baton = await startBaton(processYaml(pg, { migrateHold: false }));
    expect((await writeAs(baton.port, 'x=1', 0)).status).toBe(201);
    const events: SwapEvent[] = [];
    const canarySeen: Array<WebStatus['canary']> = [];
    const run = control(baton.socket, 'POST', '/v1/services/web/deploy', { version: 'v2', canary: 50 }, (e) => events.push(e as SwapEvent));
    // While the migration runs, no request can reach the canary: it is not in the routing yet.
    let settled = false;
    void run.finally(() => (settled = true));
    const poll = performance.now() + 30_000;
    while (!settled && performance.now() < poll) {
      const s = await status(baton);
      if (s.swapping?.step === 'migrate') canarySeen.push(s.canary);
      await new Promise((r) => setTimeout(r, 25));
    }
    const started = (await run).body as Done;
    expect(started).toMatchObject({ done: true, ok: true, version: 'v2', canary: 50 });
    expect(stepsOf(events)).toEqual(['start', 'healthy', 'migrate', 'canary', 'notify']);
    expect(events.find((e) => 'step' in e && e.step === 'migrate')).toMatchObject({ exit_code: 0 });
    console.log(`[canary-migrate] status polls during the migration=${canarySeen.length}, canary routed in any=${canarySeen.some((c) => c !== null)}`);
    expect(canarySeen.length).toBeGreaterThan(0);
    expect(canarySeen.every((c) => c === null)).toBe(true);
    expect(await authorColumn()).toBe(1);
    expect(await migrations(baton)).toBe(1);

    // The canary's clients write with the new column from their first request.
    for (let i = 1; i <= 5; i++) expect(await writeAs(baton.port, 'baton_canary_web=canary-v2', i)).toMatchObject({ status: 201, version: 'v2' });

    const promoteEvents: SwapEvent[] = [];
    const promoted = await control(baton.socket, 'POST', '/v1/services/web/promote', {}, (e) => promoteEvents.push(e as SwapEvent));
    expect(promoted.body).toMatchObject({ done: true, ok: true, version: 'v2', previous: 'v1' });
    expect(stepsOf(promoteEvents)).toEqual(['hold', 'switch', 'resume', 'notify', 'drain', 'stop']);
    expect(await migrations(baton)).toBe(1);
    expect(await status(baton)).toMatchObject({ canary: null, active: { version: 'v2' } });
  });

  it('a canary whose migration fails ends at migrate: no canary, the canary version stopped, the active one serves', async () => {
    baton = await startBaton(processYaml(pg, { migrateHold: false }));
    const before = await status(baton);
    const events: SwapEvent[] = [];
    const r = await control(baton.socket, 'POST', '/v1/services/web/deploy', { version: 'v2-broken', canary: 20 }, (e) => events.push(e as SwapEvent));
    expect(r.body).toMatchObject({ done: true, ok: false, error: { step: 'migrate', code: 'MIGRATION_FAILED', exit_code: 1 } });
    expect(stepsOf(events)).toEqual(['start', 'healthy']);
    const after = await status(baton);
    expect(after).toMatchObject({ state: 'serving', canary: null, active: { version: 'v1' } });
    expect(after.replicas.map((x) => x.id)).toEqual(before.replicas.map((x) => x.id));
    for (let i = 0; i < 10; i++) expect(await writeAs(baton.port, 'baton_canary_web=canary-v2-broken', i)).toMatchObject({ status: 201, version: 'v1' });
    expect(await authorColumn()).toBe(0);
  });
});
