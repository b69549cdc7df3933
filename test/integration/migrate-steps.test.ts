import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configYaml, dispose, startBaton, type RunningBaton } from '../helpers/baton.js';
import { stepsOf } from '../helpers/migrations.js';
import { request as control } from '../../src/cli/client.js';
import type { SwapEvent } from '../../src/control/protocol.js';

/**
 * The migrate step on the process runtime without a database (issue 13): what the migration runs
 * as, the quiesce before it, and its failure paths (timeout, a command that cannot start), with
 * the fixture app's `replica` mode (slow answers on request) and small `node -e` migrations that
 * record themselves in migrations.log in the service's cwd. The PostgreSQL tests are
 * migrate.test.ts and canary-migrate.test.ts.
 */
let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

/** A migration that records how it was run, one JSON line per run, and says so on stdout. */
const RECORDING = [
  'node',
  '-e',
  "require('fs').appendFileSync('migrations.log', JSON.stringify({ arg: process.argv[1], version: process.env.BATON_VERSION, service: process.env.BATON_SERVICE, mark: process.env.MARK, cwd: process.cwd(), at: Date.now() }) + '\\n'); console.log('migrated to ' + process.argv[1])",
  '{version}',
];

function yaml(command: string[], opts: { timeout?: string } = {}): string {
  return configYaml({
    web: {
      version: 'replica1',
      env: { MARK: 'from the service env' },
      extra: `migrate:\n  command: ${JSON.stringify(command)}\n  timeout: ${opts.timeout ?? '30s'}\ndrain:\n  timeout: 10s\n  websocket_grace: 0s`,
    },
  });
}

interface Run {
  arg: string;
  version: string;
  service: string;
  mark: string;
  cwd: string;
  at: number;
}

async function runs(b: RunningBaton): Promise<Run[]> {
  const text = await readFile(path.join(b.dir, 'migrations.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Run);
}

async function deploy(b: RunningBaton, version: string, route = 'deploy'): Promise<SwapEvent[]> {
  const events: SwapEvent[] = [];
  await control(b.socket, 'POST', `/v1/services/web/${route}`, route === 'deploy' ? { version } : {}, (e) => events.push(e as SwapEvent));
  return events;
}

function whoami(port: number, delayMs = 0): Promise<{ status: number; version?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/whoami?delay=${delayMs}`, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? { status: 200, version: (JSON.parse(body) as { version: string }).version } : { status: res.statusCode ?? 0 }));
    });
    req.on('error', () => resolve({ status: -1 }));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the migrate step (process runtime)', () => {
  it("runs as the new version: {version} replaced, BATON_VERSION, the service's env and cwd; its output in Baton's log with service and version", async () => {
    baton = await startBaton(yaml(RECORDING));
    const events = await deploy(baton, 'replica2');
    expect(events.at(-1)).toMatchObject({ done: true, ok: true, version: 'replica2' });
    const [run, ...more] = await runs(baton);
    expect(more).toEqual([]);
    expect(run).toMatchObject({ arg: 'replica2', version: 'replica2', service: 'web', mark: 'from the service env' });
    expect(path.resolve(run!.cwd)).toBe(path.resolve(baton.dir));
    expect(events.find((e) => 'step' in e && e.step === 'migrate')).toMatchObject({ exit_code: 0, output: ['migrated to replica2'] });
    const logged = baton
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'migrated to replica2');
    expect(logged).toMatchObject({ service: 'web', version: 'replica2', stream: 'stdout' });
  });

  it("starts only once the old version's in-flight requests are done (quiesce); requests sent meanwhile go to the new version", async () => {
    const DELAY_MS = 1500;
    baton = await startBaton(yaml(RECORDING));
    const sentAt = Date.now();
    const slow = whoami(baton.port, DELAY_MS);
    await new Promise((r) => setTimeout(r, 50));
    const deploying = deploy(baton, 'replica2');
    // Wait for the hold, then send a request into it.
    for (let i = 0; i < 200; i++) {
      const s = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { state: string } } };
      if (s.services.web.state === 'migrating') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const held = whoami(baton.port);
    expect(await slow).toEqual({ status: 200, version: 'replica1' });
    expect(await held).toEqual({ status: 200, version: 'replica2' });
    const events = await deploying;
    expect(stepsOf(events)).toEqual(['start', 'healthy', 'hold', 'quiesce', 'migrate', 'switch', 'resume', 'notify', 'drain', 'stop']);
    expect(events.find((e) => 'step' in e && e.step === 'quiesce')).toMatchObject({ version: 'replica1', cut: 0 });
    // The migration began after v1 answered, which it did no sooner than DELAY_MS after the request was sent.
    const [run] = await runs(baton);
    console.log(`[migrate quiesce] slow request sent at 0, migration began at +${run!.at - sentAt} ms (the request took at least ${DELAY_MS} ms)`);
    expect(run!.at - sentAt).toBeGreaterThanOrEqual(DELAY_MS * 0.99);
    expect(events.find((e) => 'step' in e && e.step === 'resume')).toMatchObject({ released: 1 });
  });

  it('a migration past migrate.timeout is killed: MIGRATION_TIMEOUT at migrate, held requests go to the old version, nothing is left running', async () => {
    const hang = ['node', '-e', "require('fs').writeFileSync('hang.pid', String(process.pid)); setInterval(() => {}, 1000)"];
    // Long enough for node to start and write its pid on a loaded machine.
    baton = await startBaton(yaml(hang, { timeout: '2s' }));
    const answers: Array<Promise<{ status: number; version?: string }>> = [];
    const deploying = deploy(baton, 'replica2');
    for (let i = 0; i < 200; i++) {
      const s = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { state: string } } };
      if (s.services.web.state === 'migrating') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 4; i++) answers.push(whoami(baton.port));
    const events = await deploying;
    const done = events.at(-1) as Extract<SwapEvent, { done: true; ok: false }>;
    console.log(`[migrate timeout] ${JSON.stringify(done.error).slice(0, 200)}`);
    expect(done).toMatchObject({ done: true, ok: false, error: { step: 'migrate', code: 'MIGRATION_TIMEOUT' } });
    expect(done.error.message).toContain('timed out after 2s');
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 4 }, () => ({ status: 200, version: 'replica1' })));
    const pid = Number(await readFile(path.join(baton.dir, 'hang.pid'), 'utf8'));
    expect(isRunning(pid), 'the timed-out migration was killed').toBe(false);
    const status = (await control(baton.socket, 'GET', '/v1/status')).body as { services: { web: { state: string; active: { version: string }; replicas: unknown[] } } };
    expect(status.services.web).toMatchObject({ state: 'serving', active: { version: 'replica1' } });
    expect(status.services.web.replicas).toHaveLength(1);
  });

  it('a migration that cannot start ends the deploy at migrate naming the command; the old version serves on', async () => {
    baton = await startBaton(yaml(['./no-such-migrate-command', '{version}']));
    const events = await deploy(baton, 'replica2');
    const done = events.at(-1) as Extract<SwapEvent, { done: true; ok: false }>;
    expect(done).toMatchObject({ done: true, ok: false, error: { step: 'migrate', code: 'START_FAILED' } });
    expect(done.error.message).toContain('no-such-migrate-command');
    expect(await whoami(baton.port)).toEqual({ status: 200, version: 'replica1' });
    const cli = await baton.cli('deploy', 'web', 'replica3');
    expect(cli.code).toBe(1);
  });

  it('rollback runs no migration', async () => {
    baton = await startBaton(yaml(RECORDING));
    expect((await deploy(baton, 'replica2')).at(-1)).toMatchObject({ done: true, ok: true });
    const rolled = await deploy(baton, '', 'rollback');
    expect(rolled.at(-1)).toMatchObject({ done: true, ok: true, version: 'replica1' });
    expect(stepsOf(rolled)).not.toContain('migrate');
    expect((await runs(baton)).map((r) => r.version)).toEqual(['replica2']);
  });
});
