/**
 * `baton logs SERVICE [-f] [-n N]` on the Docker runtime: the container's log stream, through
 * the real CLI. Skipped with a printed reason when no engine answers, except under CI=true.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startBaton, stopProcess, removeDir, type RunningBaton } from '../helpers/baton.js';
import { containersOf, docker, dockerYaml, REPO, requireEngineAndImages } from './e2e.js';

const engine = await docker.ping({ abortSignal: AbortSignal.timeout(3_000) }).then(
  () => true,
  () => false,
);
const mustRun = process.env.CI === 'true';
if (!engine && !mustRun) console.warn('test/docker/cli-logs.test.ts skipped: no Docker engine answered; under CI=true this fails');

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!engine && !mustRun)('baton logs (Docker runtime)', { timeout: 60_000 }, () => {
  const services: string[] = [];
  let baton: RunningBaton | undefined;
  const followers: ChildProcess[] = [];
  let serial = 0;
  const service = (): string => {
    const name = `lg${process.pid}x${++serial}`;
    services.push(name);
    return name;
  };

  beforeAll(() => requireEngineAndImages(engine, ['v1', 'v2'].map((t) => `${REPO}:${t}`)));

  afterEach(async () => {
    for (const f of followers.splice(0)) await stopProcess(f, 5_000);
    if (baton !== undefined) {
      await baton.stop();
      await removeDir(baton.dir);
      baton = undefined;
    }
    const ids = (await Promise.all(services.splice(0).map((s) => containersOf(s)))).flat();
    await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
  });

  it("prints the container's recent output, and with -f follows it across a deploy", async () => {
    const name = service();
    baton = await startBaton(dockerYaml(name));
    await fetch(`${baton.url}/say?text=first`);
    await fetch(`${baton.url}/say?text=oops&to=stderr`);
    // The engine's log may lag the request by a moment.
    let plain = '';
    for (let i = 0; i < 50 && !plain.includes('oops'); i++) plain = (await baton.cli('logs', name)).stdout;
    expect(plain).toContain('test app v1 listening on 127.0.0.1:');
    expect(plain).toMatch(/first\noops\n$/);
    expect((await baton.cli('logs', name, '-n', '1')).stdout).toBe('oops\n');
    const json = JSON.parse((await baton.cli('logs', name, '-n', '1', '--json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ version: 'v1', stream: 'stderr', line: 'oops' });
    expect(String(json.instance)).toMatch(/^[0-9a-f]{64}$/);

    const f = spawn(process.execPath, [CLI, 'logs', name, '-f', '-n', '0', '--socket', baton.socket], { stdio: ['ignore', 'pipe', 'pipe'] });
    followers.push(f);
    let out = '';
    f.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => setTimeout(r, 500));
    await fetch(`${baton.url}/say?text=ping`);
    await until('ping', () => out.includes('ping\n'));
    expect(out).not.toContain('first');
    const deploy = await baton.cli('deploy', name, 'v2');
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
    await until('v2 joined', () => out.includes('test app v2 listening'));
    await fetch(`${baton.url}/say?text=pong`);
    await until('pong', () => out.includes('pong\n'));
  });
});
