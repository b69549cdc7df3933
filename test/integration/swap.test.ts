import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURE_APP, configYaml, events, startBaton, type RunningBaton, dispose } from '../helpers/baton.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

async function version(url: string): Promise<string> {
  const res = await fetch(`${url}/version`);
  return ((await res.json()) as { version: string }).version;
}

describe('deploy and rollback', () => {
  it('a deploy switches traffic to the new version and streams every step in order', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect(await version(baton.url)).toBe('v1');
    const r = await baton.cli('deploy', 'web', 'v2', '--json');
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.filter((e) => 'step' in e).map((e) => e.step)).toEqual(['start', 'healthy', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop']);
    for (const e of ev) expect(typeof e.ms).toBe('number');
    const done = ev.at(-1)!;
    expect(done).toMatchObject({ done: true, ok: true, version: 'v2' });
    expect(done.hold_ms).toBeLessThan(50);
    expect(await version(baton.url)).toBe('v2');
    const status = JSON.parse((await baton.cli('status', '--json')).stdout);
    expect(status.services.web).toMatchObject({ state: 'serving', active: { version: 'v2' }, previous: { version: 'v1' }, inflight: 0, queued: 0 });
  });

  it('a deploy prints one human line per step with its duration', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const r = await baton.cli('deploy', 'web', 'v2');
    expect(r.code).toBe(0);
    for (const step of ['start', 'healthy', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop', 'done']) {
      expect(r.stdout).toMatch(new RegExp(`^${step}\\s+[\\d.]+m?s`, 'm'));
    }
  });

  it('rollback switches back to the version active before the last deploy', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('deploy', 'web', 'v2')).code).toBe(0);
    const r = await baton.cli('rollback', 'web', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(events(r.stdout).at(-1)).toMatchObject({ done: true, ok: true, version: 'v1' });
    expect(await version(baton.url)).toBe('v1');
  });

  it('rollback with no previous version is refused with exit 2', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const r = await baton.cli('rollback', 'web');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('NO_PREVIOUS_VERSION');
  });

  it('a version that exits at start fails the deploy with its exit code and output, and v1 keeps serving', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const r = await baton.cli('deploy', 'web', 'crash1', '--json');
    expect(r.code).toBe(1);
    const done = events(r.stdout).at(-1)!;
    expect(done).toMatchObject({ done: true, ok: false, error: { code: 'EXITED', step: 'healthy', exit_code: 3 } });
    expect(JSON.stringify(done)).toContain('boom: crashing on purpose');
    expect(await version(baton.url)).toBe('v1');
    const status = JSON.parse((await baton.cli('status', '--json')).stdout);
    expect(status.services.web).toMatchObject({ state: 'serving', active: { version: 'v1' }, previous: null });
  });

  it('a version never healthy fails at the deadline with the last health status, and v1 keeps serving', async () => {
    baton = await startBaton(configYaml({ web: { health: 'interval: 50ms\ndeadline: 2s' } }));
    const started = Date.now();
    const r = await baton.cli('deploy', 'web', 'never1', '--json');
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    const done = events(r.stdout).at(-1)!;
    expect(done, JSON.stringify(done)).toMatchObject({ done: true, ok: false, error: { code: 'HEALTH_DEADLINE', step: 'healthy', last_health: 'HTTP 503' } });
    expect(await version(baton.url)).toBe('v1');
  });

  it('a command that cannot be run fails the deploy at the start step, naming it', async () => {
    // The command is "<dir>/bin-{version}": only bin-v1 exists.
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    await writeFile(path.join(dir, 'bin-v1'), `#!/bin/sh\nexec ${process.execPath} ${FIXTURE_APP}\n`, { mode: 0o755 });
    baton = await startBaton(configYaml({ web: { command: [path.join(dir, 'bin-{version}')] } }), { dir });
    const r = await baton.cli('deploy', 'web', 'v2', '--json');
    expect(r.code).toBe(1);
    const done = events(r.stdout).at(-1)!;
    expect(done).toMatchObject({ done: true, ok: false, error: { code: 'START_FAILED', step: 'start' } });
    expect(JSON.stringify(done)).toContain('bin-v2');
    expect(await version(baton.url)).toBe('v1');
  });

  it('a second deploy of the same service while one runs gets 409 naming the running one', async () => {
    baton = await startBaton(configYaml({ web: { extra: 'drain:\n  timeout: 3s' } }));
    // Keep the first deploy in its drain with a slow in-flight request.
    const slow = fetch(`${baton.url}/slow?ms=1500`);
    await new Promise((r) => setTimeout(r, 100));
    const first = baton.cli('deploy', 'web', 'v2');
    await new Promise((r) => setTimeout(r, 600));
    const second = await baton.cli('deploy', 'web', 'v3');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('SWAP_IN_PROGRESS');
    expect(second.stderr).toContain('v2');
    expect((await first).code).toBe(0);
    expect((await slow).status).toBe(200);
  });

  it('deploys of two services run in parallel', async () => {
    baton = await startBaton(
      configYaml({
        a: { hosts: ['a.test'], extra: 'drain:\n  timeout: 3s' },
        b: { hosts: ['b.test'], extra: 'drain:\n  timeout: 3s' },
      }),
    );
    const [ra, rb] = await Promise.all([baton.cli('deploy', 'a', 'v2'), baton.cli('deploy', 'b', 'v2')]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
  });

  it('the deployed version is remembered in the state file and served after a restart', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('deploy', 'web', 'v2')).code).toBe(0);
    const state = JSON.parse(await readFile(path.join(baton.dir, 'baton.state.json'), 'utf8'));
    expect(state.services.web).toMatchObject({ version: 'v2', previous: 'v1' });
    const dir = baton.dir;
    expect(await baton.stop()).toBe(0);
    baton = await startBaton(configYaml({ web: {} }), { dir });
    expect(await version(baton.url)).toBe('v2');
    // And rollback still knows where to go.
    expect((await baton.cli('rollback', 'web')).code).toBe(0);
    expect(await version(baton.url)).toBe('v1');
  });
});
