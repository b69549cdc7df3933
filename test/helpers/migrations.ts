/**
 * What the migration tests share (examples/migrations against a real PostgreSQL, on either
 * runtime): SQL from the test, clients writing notes through Baton, and the tally of their
 * writes against the table (failed, lost, written by v2, carrying the new column).
 */
import http from 'node:http';
import path from 'node:path';
import { expect } from 'vitest';
import { ROOT } from './baton.js';
import type { Postgres } from './postgres.js';

export const APP = path.join(ROOT, 'examples/migrations/app.js');
export const MIGRATE = path.join(ROOT, 'examples/migrations/migrate.js');
/** How long migrate.js takes (its pg_sleep): a version with "slow" in its name takes SLOW_MIGRATION_MS. */
export const MIGRATION_MS = 1000;
export const SLOW_MIGRATION_MS = 3000;

/** A config of one service `web` on the process runtime: the example app on the cluster, with its migration. */
export function processYaml(pg: Postgres, opts: { migrateHold?: boolean; holdTimeout?: string } = {}): string {
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

/** One query on the cluster's socket, as the postgres user. */
export async function sql(pg: Postgres, query: string): Promise<unknown[]> {
  const { default: Pg } = await import('pg');
  const client = new Pg.Client({ host: pg.socketDir, port: pg.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    return (await client.query(query)).rows;
  } finally {
    await client.end();
  }
}

/** The answer to one POST /notes: 201 with the row's id and the version that wrote it, or why not. */
export interface Write {
  status: number;
  id?: number;
  version?: string;
  retryAfter?: string;
}

export function write(port: number, agent: http.Agent | false, client: number, seq: number, extra: Record<string, string> = {}): Promise<Write> {
  const body = JSON.stringify({ body: `note ${client}.${seq}`, client: String(client), seq });
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra };
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/notes', method: 'POST', agent, headers }, (res) => {
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

/** `clients` keep-alive clients writing one note after another until `stop()`; returns every answer. */
export function writers(port: number, clients = 16): { stop: () => Promise<Write[]> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const results: Write[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, c) => {
    const hardStop = performance.now() + 120_000;
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

export interface Tally {
  writes: number;
  /** Answers other than 201 (status -1: a connection error). */
  failed: Write[];
  /** Acknowledged ids missing from the table. */
  lost: number[];
  /** Writes acknowledged by a version other than v1. */
  byNew: number;
  /** Rows whose author (the column v2's migration adds) names a version, not the default. */
  authored: number;
}

/** The writes against the table: what failed, what was acknowledged but is not there. */
export async function tally(pg: Postgres, results: Write[]): Promise<Tally> {
  const stored = new Set((await sql(pg, 'SELECT id FROM notes')).map((r) => (r as { id: number }).id));
  const acked = results.filter((r) => r.status === 201).map((r) => r.id!);
  const columns = (await sql(pg, "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'author'")).length;
  const authored = columns === 0 ? 0 : Number(((await sql(pg, "SELECT count(*) AS n FROM notes WHERE author <> 'unknown'")) as Array<{ n: string }>)[0]!.n);
  return {
    writes: results.length,
    failed: results.filter((r) => r.status !== 201),
    lost: acked.filter((id) => !stored.has(id)),
    byNew: results.filter((r) => r.status === 201 && r.version !== undefined && !r.version.startsWith('v1')).length,
    authored,
  };
}

/** The step names of a deploy's events, in order. */
export function stepsOf(events: ReadonlyArray<object>): string[] {
  return events.filter((e) => 'step' in e).map((e) => (e as { step: string }).step);
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * What a migrating deploy's hold should span, from its own step events (one clock, Baton's):
 * at least the quiesce and the migration, at most those with the hold and switch steps around
 * them. `rounding` covers the 0.1 ms rounding of each figure.
 */
export function holdWindow(events: ReadonlyArray<object>): { min: number; max: number; beforeHold: number; rounding: number } {
  const ms = (step: string): number => {
    const e = events.find((x) => 'step' in x && (x as { step: string }).step === step) as { ms: number } | undefined;
    if (e === undefined) throw new Error(`no ${step} step among the deploy's events`);
    return e.ms;
  };
  return {
    min: ms('quiesce') + ms('migrate'),
    max: ms('hold') + ms('quiesce') + ms('migrate') + ms('switch'),
    beforeHold: ms('start') + ms('healthy'),
    rounding: 1,
  };
}

/**
 * What a deploy that migrated under writers must show, on either runtime: no write failed or was
 * lost, v2 took writes and each carries the new column, and the hold spans the quiesce and the
 * migration (pg_sleep of MIGRATION_MS), not the whole deploy: bounded by the deploy's own step
 * times (holdWindow), not by a wall-clock figure.
 */
export function expectMigratedWithoutLoss(t: Tally, done: { hold_ms: number; ms: number }, events: ReadonlyArray<object>): void {
  expect(t.failed.slice(0, 3)).toEqual([]);
  expect(t.lost).toEqual([]);
  expect(t.byNew).toBeGreaterThan(0);
  // Every write v2 acknowledged carries the new column.
  expect(t.authored).toBe(t.byNew);
  const w = holdWindow(events);
  expect(done.hold_ms).toBeGreaterThanOrEqual(MIGRATION_MS);
  expect(done.hold_ms).toBeGreaterThanOrEqual(w.min - w.rounding);
  expect(done.hold_ms).toBeLessThanOrEqual(w.max + w.rounding);
  expect(done.hold_ms).toBeLessThan(done.ms - w.beforeHold);
}
