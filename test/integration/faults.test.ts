import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configYaml, events, removeDir, runCli, startBaton, stopProcess, type RunningBaton, dispose } from '../helpers/baton.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function web(b: RunningBaton): Promise<{ active: { version: string; id: string }; healthy: boolean; state: string }> {
  return JSON.parse((await b.cli('status', '--json')).stdout).services.web;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; ms: number; error?: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, ms: performance.now() - started }));
      res.on('error', (err) => resolve({ status: res.statusCode!, body, ms: performance.now() - started, error: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, body: '', ms: performance.now() - started, error: err.message }));
  });
}

describe('faults', () => {
  it('the app killed mid-response gets the client a quick 502, leaves other services serving, and is logged with the request id', async () => {
    baton = await startBaton(configYaml({ web: { hosts: ['*'] }, api: { hosts: ['api.test'], version: 'api1' } }));
    const pid = Number((await web(baton)).active.id);
    const pending = get(baton.port, '/slow?ms=5000', { 'x-request-id': 'killed-midway-1' });
    await sleep(200);
    process.kill(pid, 'SIGKILL');
    const r = await pending;
    expect(r.status).toBe(502);
    expect(r.ms).toBeLessThan(1500);
    const other = await get(baton.port, '/version', { host: 'api.test' });
    expect(other.status).toBe(200);
    await sleep(100);
    expect(baton.output()).toContain('killed-midway-1');
  });

  it('a stream cut by the app dying ends for the client instead of hanging', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const pid = Number((await web(baton)).active.id);
    const ended = new Promise<number>((resolve) => {
      http.get({ host: '127.0.0.1', port: baton!.port, path: '/events', agent: false }, (res) => {
        res.once('data', () => process.kill(pid, 'SIGKILL'));
        const t = performance.now();
        res.on('close', () => resolve(performance.now() - t));
        res.on('error', () => {});
      });
    });
    expect(await ended).toBeLessThan(2000);
  });

  it('when the active version dies between requests, requests get 502 at once, status says unhealthy, and a deploy recovers', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    // The supervisor replaces a dead instance after 1 s, 2 s if its replacement dies too: killing
    // the replacement as well leaves the CLI (two process starts, slow on a loaded machine) 2 s
    // to see the version unhealthy before it is replaced again.
    const first = (await web(baton)).active.id;
    process.kill(Number(first), 'SIGKILL');
    let now = await web(baton);
    for (let i = 0; i < 100 && (now.active.id === first || !now.healthy); i++) {
      await sleep(50);
      now = await web(baton);
    }
    const replacement = now.active.id;
    expect(replacement).not.toBe(first);
    process.kill(Number(replacement), 'SIGKILL');
    await sleep(200);
    const r = await get(baton.port, '/version');
    expect(r.status).toBe(502);
    expect(r.ms).toBeLessThan(500);
    expect((await web(baton)).healthy).toBe(false);
    expect((await baton.cli('status')).stdout).toContain('unhealthy');
    const d = await baton.cli('deploy', 'web', 'v2');
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect((await get(baton.port, '/version')).status).toBe(200);
    expect((await web(baton)).healthy).toBe(true);
  });

  it('a new version that dies after the switch, while the old one drains, is rolled back automatically', async () => {
    baton = await startBaton(configYaml({ web: { extra: 'drain:\n  timeout: 10s\n  websocket_grace: 5s' } }));
    // Keeps v1 draining (so still running) when the new version dies ~600 ms after it started.
    const slow = get(baton.port, '/slow?ms=3000');
    await sleep(100);
    const r = await baton.cli('deploy', 'web', 'dieafter1', '--json');
    expect(r.code).toBe(1);
    const ev = events(r.stdout);
    expect(ev.map((e) => e.step).filter(Boolean)).toContain('rollback');
    expect(ev.at(-1)).toMatchObject({ done: true, ok: false, error: { code: 'EXITED', step: 'drain', exit_code: 7, rolled_back_to: 'v1' } });
    expect((await web(baton)).active.version).toBe('v1');
    expect((await get(baton.port, '/version')).body).toContain('v1');
    expect((await slow).status).toBe(200);
    // Rollback still means "the version before the last successful deploy": there is none.
    expect((await baton.cli('rollback', 'web')).code).toBe(2);
  });

  it('SIGTERM during a deploy health check exits cleanly and the next start serves the version that was active', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const deploy = baton.cli('deploy', 'web', 'never1');
    // In its health check (a fixed sleep lost the race on a loaded machine: the CLI then found no Baton, exit 3).
    while ((await web(baton)).state !== 'swapping') await sleep(50);
    await sleep(200);
    expect(await stopProcess(baton.proc)).toBe(0);
    expect((await deploy).code).toBe(1);
    const dir = baton.dir;
    baton = await startBaton(configYaml({ web: {} }), { dir });
    expect((await get(baton.port, '/version')).body).toContain('v1');
  });

  it('SIGTERM during a drain finishes the drained request and the next start serves the new version', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const slow = get(baton.port, '/slow?ms=1500');
    await sleep(100);
    const deploy = baton.cli('deploy', 'web', 'v2');
    // Wait until v2 is active (the deploy is then draining v1).
    while ((await web(baton)).active.version !== 'v2') await sleep(50);
    expect(await stopProcess(baton.proc)).toBe(0);
    expect((await slow).status).toBe(200);
    await deploy;
    const state = JSON.parse(await readFile(path.join(baton.dir, 'baton.state.json'), 'utf8'));
    expect(state.services.web.version).toBe('v2');
    const dir = baton.dir;
    baton = await startBaton(configYaml({ web: {} }), { dir });
    expect((await get(baton.port, '/version')).body).toContain('v2');
  });

  it('SIGTERM while paused releases the held requests to the active version', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await baton.cli('pause', 'web');
    const held = [get(baton.port, '/version'), get(baton.port, '/version')];
    while (JSON.parse((await baton.cli('status', '--json')).stdout).services.web.queued < 2) await sleep(20);
    expect(await stopProcess(baton.proc)).toBe(0);
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('a corrupt state file stops start with exit 2 naming the file', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const dir = baton.dir;
    await baton.stop();
    baton = undefined;
    await writeFile(path.join(dir, 'baton.state.json'), '{"services": {"web": {"vers');
    const r = await runCli(['start', '-c', path.join(dir, 'baton.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(dir, 'baton.state.json'));
    await removeDir(dir);
  });

  it('a flapping health endpoint never passes healthy_threshold 2', async () => {
    baton = await startBaton(configYaml({ web: { health: 'interval: 50ms\ndeadline: 1500ms\nhealthy_threshold: 2' } }));
    const r = await baton.cli('deploy', 'web', 'flap1', '--json');
    expect(r.code).toBe(1);
    expect(events(r.stdout).at(-1)).toMatchObject({ ok: false, error: { code: 'HEALTH_DEADLINE' } });
    expect((await web(baton)).active.version).toBe('v1');
  });

  it('with the default healthy_threshold of 1 a single 2xx is enough', async () => {
    baton = await startBaton(configYaml({ web: { health: 'interval: 50ms\ndeadline: 1500ms' } }));
    const r = await baton.cli('deploy', 'web', 'flap1');
    expect(r.code, r.stdout).toBe(0);
  });
});
