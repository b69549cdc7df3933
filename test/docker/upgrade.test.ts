/**
 * `baton upgrade` with a service on the Docker runtime: the new Baton adopts the running
 * container (same id, not restarted) and nothing fails meanwhile. Skipped with a printed reason
 * when no engine answers, except under CI=true.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { events, removeDir, runCli, startBaton, type RunningBaton } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';
import type { StatusBody } from '../../src/control/protocol.js';
import { containersOf, docker, dockerYaml, REPO, requireEngineAndImages, until } from './e2e.js';
import { Load } from './load.js';

const engine = await docker.ping({ abortSignal: AbortSignal.timeout(3_000) }).then(
  () => true,
  () => false,
);
const mustRun = process.env.CI === 'true';
if (!engine && !mustRun) console.warn('test/docker/upgrade.test.ts skipped: no Docker engine answered (run .ci/docker-up.sh); under CI=true this fails');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!engine && !mustRun)('baton upgrade on the Docker runtime', { timeout: 90_000 }, () => {
  const name = `bu${process.pid}`;
  let baton: RunningBaton | undefined;
  const pids: number[] = [];
  let load: Load | undefined;

  beforeAll(() => requireEngineAndImages(engine, [`${REPO}:v1`, `${REPO}:v2`]));

  afterEach(async () => {
    await load?.stop();
    for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGTERM');
    await until('the Batons stopped', async () => pids.every((p) => !alive(p)), 30_000).catch(() => {});
    await Promise.all((await containersOf(name)).map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
    if (baton !== undefined) await removeDir(baton.dir);
  });

  it('adopts the running container (same id, not restarted), fails no request, and deploys after', async () => {
    baton = await startBaton(dockerYaml(name));
    pids.push(baton.proc.pid!);
    const status = async (): Promise<StatusBody> => (await control(baton!.socket, 'GET', '/v1/status')).body as StatusBody;
    const [before] = await containersOf(name, false);
    const startedAt = (await docker.getContainer(before!).inspect()).State.StartedAt;
    load = new Load(baton.port, 16);
    await new Promise((r) => setTimeout(r, 300));

    const r = await runCli(['upgrade', '--json', '--socket', baton.socket]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const done = events(r.stdout).at(-1)!;
    const pid = Number(done.pid);
    pids.push(pid);
    expect(done).toMatchObject({ done: true, ok: true, previous_pid: baton.proc.pid });
    await until('the old Baton gone', async () => !alive(baton!.proc.pid!), 10_000);

    expect(await containersOf(name, false)).toEqual([before]);
    expect((await docker.getContainer(before!).inspect()).State.StartedAt).toBe(startedAt);
    expect((await status()).baton.pid).toBe(pid);
    const deploy = await runCli(['deploy', name, 'v2', '--socket', baton.socket]);
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
    await load.stop();
    const failures = load.failures();
    console.log(`[docker upgrade] requests=${load.results.length} failed=${failures.length} upgrade_ms=${done.ms}`);
    expect(failures.slice(0, 5)).toEqual([]);
    load = undefined;
  });
});
