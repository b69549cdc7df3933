/**
 * Baton end to end on a real Docker engine, through the real CLI (dist/cli.js; run
 * `npm run build` first) and the test images of test/docker/images (built by
 * .ci/docker-up.sh). Skipped with a printed reason when no engine answers, except under
 * CI=true, where a missing engine is a failure.
 *
 * Every test uses its own service name, so the containers it makes are found (and removed,
 * by id) through the `baton.service` label; nothing else on the engine is touched.
 */

import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/runtime/free-port.js';
import { events, removeDir, ROOT, startBaton, type RunningBaton } from '../helpers/baton.js';
import { containersOf, docker, dockerYaml, doneOf, getVersion, gone, managedLabels, median, REPO, requireEngineAndImages, round, until } from './e2e.js';
import { Load } from './load.js';

const NEEDED = ['v1', 'v2', 'v3', 'crash', 'unhealthy'].map((t) => `${REPO}:${t}`);
const BATON_IMAGE = '127.0.0.1:9/baton:local';
const CLIENTS = 32;

const run = promisify(execFile);
const engine = await docker.ping({ abortSignal: AbortSignal.timeout(3_000) }).then(
  () => true,
  () => false,
);
const mustRun = process.env.CI === 'true';
if (!engine && !mustRun) {
  console.warn('test/docker/baton.test.ts skipped: no Docker engine answered (run .ci/docker-up.sh); under CI=true this fails');
}

describe.skipIf(!engine && !mustRun)('Baton on the Docker runtime (real engine, real CLI)', { timeout: 90_000 }, () => {
  let serial = 0;
  const services: string[] = [];
  const batons: RunningBaton[] = [];
  const containers: string[] = [];
  const dirs: string[] = [];
  let loads: Load[] = [];

  /** A service name of this run: its containers are this test's to remove. */
  const service = (): string => {
    const name = `bt${process.pid}x${++serial}`;
    services.push(name);
    return name;
  };

  async function start(yaml: string, dir?: string): Promise<RunningBaton> {
    const baton = await startBaton(yaml, dir === undefined ? {} : { dir });
    batons.push(baton);
    if (!dirs.includes(baton.dir)) dirs.push(baton.dir);
    return baton;
  }

  beforeAll(() => requireEngineAndImages(engine, NEEDED));

  afterEach(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    loads = [];
    await Promise.all(batons.splice(0).map((b) => b.stop()));
    const ids = [...containers.splice(0), ...(await Promise.all(services.splice(0).map((s) => containersOf(s)))).flat()];
    await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
    await Promise.all(dirs.splice(0).map((d) => removeDir(d)));
  });

  it(`swaps v1 -> v2 -> v3 -> rollback ... 12 times under ${CLIENTS} keep-alive clients with no failed request`, async () => {
    const name = service();
    const baton = await start(dockerYaml(name));
    const load = new Load(baton.port, CLIENTS);
    loads.push(load);
    await new Promise((r) => setTimeout(r, 300));

    const plan = ['v2', 'v3', 'rollback', 'v1', 'v3', 'rollback', 'v2', 'v1', 'rollback', 'v3', 'v2', 'rollback'];
    const rows: { swap: string; wall: number; total: number; start: number; healthy: number; own: number; drain: number; stop: number }[] = [];
    for (const step of plan) {
      const began = performance.now();
      const r = step === 'rollback' ? await baton.cli('rollback', name, '--json') : await baton.cli('deploy', name, step, '--json');
      const wall = performance.now() - began;
      expect(r.code, `${step}: ${r.stdout}${r.stderr}`).toBe(0);
      const byStep = new Map(events(r.stdout).filter((e) => typeof e.step === 'string').map((e): [string, number] => [e.step as string, e.ms as number]));
      const done = doneOf(r.stdout);
      const total = done.ms as number;
      const startMs = byStep.get('start') ?? NaN;
      const healthyMs = byStep.get('healthy') ?? NaN;
      rows.push({
        swap: `${step === 'rollback' ? 'rollback->' : ''}${String(done.version)}`,
        wall: round(wall),
        total,
        start: startMs,
        healthy: healthyMs,
        own: round(total - startMs - healthyMs),
        drain: byStep.get('drain') ?? NaN,
        stop: byStep.get('stop') ?? NaN,
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();

    const failures = load.failures();
    console.log(`[docker swaps] requests=${load.results.length} failures=${failures.length} swaps=${rows.length} clients=${CLIENTS}`);
    console.table(rows);
    console.log(
      `[docker swaps] median ms: total=${median(rows.map((r) => r.total))} start=${median(rows.map((r) => r.start))} ` +
        `healthy=${median(rows.map((r) => r.healthy))} baton-own=${median(rows.map((r) => r.own))} ` +
        `(drain=${median(rows.map((r) => r.drain))} stop=${median(rows.map((r) => r.stop))}) cli-wall=${median(rows.map((r) => r.wall))}`,
    );
    expect(failures.slice(0, 5)).toEqual([]);
    expect(load.results.length).toBeGreaterThan(rows.length * CLIENTS);
    expect(new Set(load.results.map((r) => r.version).filter(Boolean))).toEqual(new Set(['v1', 'v2', 'v3']));
    // Baton's own steps (hold .. stop, the old container's stop included) stay well under a second.
    expect(median(rows.map((r) => r.own))).toBeLessThan(1_000);
    // One container left: the active one; every replaced one was stopped and removed.
    expect(await containersOf(name)).toHaveLength(1);
  });

  it('fails a deploy of an image that does not exist at the start step, naming it, and keeps serving', async () => {
    const name = service();
    const baton = await start(dockerYaml(name));
    const r = await baton.cli('deploy', name, 'nope', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const { error } = doneOf(r.stdout);
    expect(error).toMatchObject({ code: 'IMAGE_NOT_FOUND', step: 'start' });
    expect(error?.message).toContain(`${REPO}:nope`);
    expect(await getVersion(baton.url)).toBe('v1');
    expect(await containersOf(name)).toHaveLength(1);
  });

  it('fails a deploy whose container exits at start with its exit code and last log line', async () => {
    const name = service();
    const baton = await start(dockerYaml(name));
    const r = await baton.cli('deploy', name, 'crash', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const { error } = doneOf(r.stdout);
    expect(error).toMatchObject({ code: 'EXITED', step: 'healthy', exit_code: 3 });
    expect(error?.output?.join('\n')).toContain('boom');
    expect(await getVersion(baton.url)).toBe('v1');
    expect(await containersOf(name)).toHaveLength(1);
  });

  it('fails a deploy whose Docker HEALTHCHECK says unhealthy as soon as it does, not at the deadline', async () => {
    const name = service();
    const baton = await start(dockerYaml(name, { deadline: '30s' }));
    const began = Date.now();
    const r = await baton.cli('deploy', name, 'unhealthy', '--json');
    const took = Date.now() - began;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(doneOf(r.stdout).error).toMatchObject({ code: 'UNHEALTHY', step: 'healthy' });
    expect(took).toBeLessThan(10_000);
    expect(await getVersion(baton.url)).toBe('v1');
    expect(await containersOf(name)).toHaveLength(1);
  });

  it('a restarted Baton adopts the running container (same id, not restarted) with no failed request once it serves, and removes stale ones', async () => {
    const name = service();
    const port = await freePort();
    const yaml = dockerYaml(name, { listen: `127.0.0.1:${port}` });
    const first = await start(yaml);
    const [id, ...others] = await containersOf(name, false);
    expect(others).toEqual([]);
    const before = await docker.getContainer(id!).inspect();
    const address = ((await first.cli('status', '--json')).stdout.match(/"address": "([^"]+)"/) ?? [])[1];

    const load = new Load(port, CLIENTS);
    loads.push(load);
    await new Promise((r) => setTimeout(r, 500));
    const stoppedAt = performance.now();
    expect(await first.stop()).toBe(0);
    // Nothing Baton follows in the engine (log streams, exit waits) keeps it from exiting.
    expect(performance.now() - stoppedAt).toBeLessThan(5_000);
    batons.splice(batons.indexOf(first), 1);
    expect((await docker.getContainer(id!).inspect()).State.Running).toBe(true);

    // Leftovers Baton must clear: a newer running container of another version, and an exited one.
    const stalePort = await freePort();
    const staleRunning = await docker.createContainer({
      Image: `${REPO}:v2`,
      Env: [`PORT=${stalePort}`, 'HOST=127.0.0.1'],
      Labels: managedLabels(name, 'v2', stalePort),
      HostConfig: { NetworkMode: 'host' },
    });
    containers.push(staleRunning.id);
    await staleRunning.start();
    const staleExited = await docker.createContainer({ Image: `${REPO}:crash`, Labels: managedLabels(name, 'crash', 1), HostConfig: { NetworkMode: 'host' } });
    containers.push(staleExited.id);
    await staleExited.start();
    await staleExited.wait();

    const second = await start(yaml, first.dir);
    const servingAt = performance.now();
    await new Promise((r) => setTimeout(r, 1_500));
    await load.stop();

    const after = await docker.getContainer(id!).inspect();
    const secondHalf = load.results.filter((r) => r.start >= servingAt);
    const firstHalf = load.results.filter((r) => r.start >= stoppedAt && r.start < servingAt);
    console.log(
      `[docker restart] down ${round(servingAt - stoppedAt)} ms; requests before stop=${load.results.filter((r) => r.start < stoppedAt).length} ` +
        `failed=${load.failures().filter((r) => r.start < stoppedAt).length}; while restarting=${firstHalf.length} failed=${firstHalf.filter((r) => !r.ok).length}; ` +
        `once serving=${secondHalf.length} failed=${secondHalf.filter((r) => !r.ok).length}`,
    );
    expect(second.output()).toContain('running instance adopted');
    expect(after.State.Running).toBe(true);
    expect(after.State.StartedAt).toBe(before.State.StartedAt);
    expect(after.RestartCount).toBe(0);
    expect(((await second.cli('status', '--json')).stdout.match(/"address": "([^"]+)"/) ?? [])[1]).toBe(address);
    expect(secondHalf.length).toBeGreaterThan(CLIENTS);
    expect(load.failures(servingAt).slice(0, 5)).toEqual([]);
    expect(new Set(secondHalf.map((r) => r.version).filter(Boolean))).toEqual(new Set(['v1']));
    await until('stale containers removed', async () => (await gone(staleRunning.id)) && (await gone(staleExited.id)), 15_000);
    expect(await containersOf(name)).toEqual([id]);
  });

  it('without a state file, a restarted Baton adopts the newest running container that answers its health check', async () => {
    const name = service();
    const first = await start(dockerYaml(name));
    const deploy = await first.cli('deploy', name, 'v2');
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
    expect(await first.stop()).toBe(0);
    batons.splice(batons.indexOf(first), 1);
    const [v2, ...others] = await containersOf(name, false);
    expect(others).toEqual([]);
    await rm(path.join(first.dir, 'baton.state.json'));

    // Newer, running, but its labelled port answers nothing: not adoptable, hence stale.
    const [appPort, labelledPort] = [await freePort(), await freePort()];
    const deaf = await docker.createContainer({
      Image: `${REPO}:v3`,
      Env: [`PORT=${appPort}`, 'HOST=127.0.0.1'],
      Labels: managedLabels(name, 'v3', labelledPort),
      HostConfig: { NetworkMode: 'host' },
    });
    containers.push(deaf.id);
    await deaf.start();

    const second = await start(dockerYaml(name), first.dir);
    expect(await getVersion(second.url)).toBe('v2');
    expect(second.output()).toContain('running instance adopted');
    await until('the unadoptable container removed', () => gone(deaf.id), 15_000);
    expect(await containersOf(name)).toEqual([v2]);
  });

  describe("Baton's own image", () => {
    let build = '';

    beforeAll(async () => {
      const began = performance.now();
      const r = await run('bash', [path.join(ROOT, 'test/docker/images/baton-image.sh'), BATON_IMAGE], { timeout: 150_000 });
      build = r.stdout + r.stderr;
      const size = (await docker.getImage(BATON_IMAGE).inspect()).Size;
      console.log(`[baton image] ${BATON_IMAGE} built in ${round((performance.now() - began) / 1000)} s, ${(size / 1e6).toFixed(0)} MB\n${build.trim()}`);
    }, 180_000);

    async function configDir(yaml: string): Promise<string> {
      const dir = await mkdtemp(path.join(tmpdir(), 'baton-image-'));
      dirs.push(dir);
      // The image runs as uid 1000: it writes the control socket and the state file here.
      await chmod(dir, 0o777);
      await writeFile(path.join(dir, 'baton.yaml'), yaml);
      return dir;
    }

    async function dockerRun(args: string[]): Promise<string> {
      const { stdout } = await run('docker', ['run', '-d', '--network', 'host', ...args, BATON_IMAGE], { timeout: 30_000 });
      const id = stdout.trim();
      containers.push(id);
      return id;
    }

    async function logsOf(id: string): Promise<string> {
      const r = await run('docker', ['logs', id]).catch((err: { stdout?: string; stderr?: string }) => err);
      return `${r.stdout ?? ''}${r.stderr ?? ''}`;
    }

    it('runs as a non-root user and serves the demo app (process runtime) from a config mounted at /etc/baton', async () => {
      expect(build).toContain('smoke check passed');
      const port = await freePort();
      const dir = await configDir(`listen: 127.0.0.1:${port}
control:
  socket: ./baton.sock
services:
  web:
    version: v7
    process:
      command: ["node", "/app/examples/demo/server.js"]
    health:
      interval: 100ms
`);
      const id = await dockerRun(['-v', `${dir}:/etc/baton`]);
      expect((await docker.getContainer(id).inspect()).Config.User).toBe('1000:1000');
      let page = '';
      await until(
        'the demo through Baton in its container',
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) });
          page = await res.text();
          return res.status === 200 && res.headers.get('x-app-version') === 'v7';
        },
        20_000,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await logsOf(id)}`);
      });
      expect(page).toContain('v7');
    });

    it('drives the host engine through a mounted Docker socket: serves and deploys containers', async () => {
      const name = service();
      const port = await freePort();
      const dir = await configDir(dockerYaml(name, { listen: `127.0.0.1:${port}` }));
      const socketGid = String((await run('stat', ['-c', '%g', '/var/run/docker.sock'])).stdout.trim());
      const id = await dockerRun(['-v', '/var/run/docker.sock:/var/run/docker.sock', '--group-add', socketGid, '-v', `${dir}:/etc/baton`]);
      await until('v1 through Baton in its container', async () => (await getVersion(`http://127.0.0.1:${port}/`)) === 'v1', 20_000).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await logsOf(id)}`);
      });
      const deploy = await run('docker', ['exec', id, 'node', 'dist/cli.js', 'deploy', name, 'v2', '-c', '/etc/baton/baton.yaml'], { timeout: 60_000 });
      expect(deploy.stdout).toContain('v2 is live');
      expect(await getVersion(`http://127.0.0.1:${port}/`)).toBe('v2');
      expect(await containersOf(name)).toHaveLength(1);
    });
  });
});
