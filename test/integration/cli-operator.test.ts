import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, configYaml, dispose, runCli, startBaton, type RunningBaton } from '../helpers/baton.js';

/**
 * What an operator meets in the first hour (issue 15) and the commands of live routing
 * (issue 12), through the real CLI: each behaviour here failed before.
 */
let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function status(b: RunningBaton): Promise<Record<string, any>> {
  return JSON.parse((await b.cli('status', '--json')).stdout).services.web;
}

describe('issue 15: the first hour', () => {
  it('redeploying the active version keeps the rollback target', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    for (const v of ['v2', 'v3', 'v3']) expect((await baton.cli('deploy', 'web', v)).code).toBe(0);
    expect((await status(baton)).previous).toEqual({ version: 'v2' });
    expect((await baton.cli('rollback', 'web')).code).toBe(0);
    expect((await status(baton)).active.version).toBe('v2');
  });

  it("a pause's own timeout bounds its held requests, not hold.timeout", async () => {
    baton = await startBaton(configYaml({ web: { extra: 'hold:\n  timeout: 1s' } }));
    expect((await baton.cli('pause', 'web', '--timeout', '3s')).stdout).toContain('paused for at most 3s');
    const started = performance.now();
    const res = await fetch(`${baton.url}/version`);
    const waited = performance.now() - started;
    expect(res.status).toBe(200);
    expect(waited).toBeGreaterThan(2500);
  });

  it('a clean stop logs no error for the apps it stops', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await baton.stop();
    const errors = baton.output().split('\n').filter((l) => /"level":50|\bERROR\b/.test(l));
    expect(errors).toEqual([]);
    expect(baton.output()).toContain('process exited');
  });

  it('a taken port is named with its key before any app starts, exit 2', async () => {
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      const yaml = configYaml({ web: {} }).replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`);
      const tmp = await mkdtemp(path.join(tmpdir(), 'baton-port-'));
      const file = path.join(tmp, 'baton.yaml');
      await writeFile(file, yaml);
      const r = await runCli(['start', '-c', file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`baton: listen: 127.0.0.1:${port} is already in use`);
      expect(r.stderr).not.toContain('process started');
      expect(r.stderr).not.toContain('EADDRINUSE');
    } finally {
      squatter.close();
    }
  });

  it('a crashed version is reported with its first error line, not its last', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const d = await baton.cli('deploy', 'web', 'crash1');
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(/exited during the health check \(exit code 3\): boom: crashing on purpose/);
  });

  it('a deploy on a terminal shows the health wait as it goes', async () => {
    baton = await startBaton(configYaml({ web: { health: 'interval: 100ms\ndeadline: 3s' } }));
    const cmd = `${process.execPath} ${CLI} deploy web never1 --socket ${baton.socket}`;
    const out = await new Promise<string>((resolve) => {
      const proc = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      let text = '';
      proc.stdout.on('data', (c: Buffer) => (text += c.toString()));
      proc.once('exit', () => resolve(text));
    });
    expect(out).toMatch(/waiting for health: \d+ probes, last HTTP 503/);
    expect(out).toMatch(/failed\s+at healthy: version never1 was not healthy within 3s/);
  });

  it('status shows hosts and paths, replicas and their restarts, and versions still draining', async () => {
    baton = await startBaton(configYaml({ web: { hosts: ['example.test'], extra: 'paths: [/, /app]\ndrain:\n  timeout: 10s\n  websocket_grace: 5s' } }));
    // A slow request keeps v1 draining while v2 takes over.
    const port = baton.port;
    const slow = new Promise<void>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/slow?ms=6000', headers: { host: 'example.test' } }, (res) => res.resume().on('end', resolve)).on('error', () => resolve());
    });
    await sleep(200);
    const deploying = baton.cli('deploy', 'web', 'v2');
    let seen = '';
    for (let i = 0; i < 50 && !seen.includes('draining v1'); i++) {
      await sleep(100);
      seen = (await baton.cli('status')).stdout;
    }
    expect(seen).toMatch(/example\.test,example\.test\/app/);
    expect(seen).toMatch(/1\/1/);
    expect(seen).toContain('draining v1: 1 in flight');
    await deploying;
    await slow;
  });
});

describe('issue 12 commands', () => {
  it('reload prints what changed, and an invalid file exits 2 changing nothing', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await writeFile(baton.configFile, configYaml({ web: {}, api: { hosts: ['api.test'], version: 'api1' } }));
    const r = await baton.cli('reload');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^added {6}api$/m);
    expect(r.stdout).toMatch(/^unchanged {2}web$/m);
    const json = await baton.cli('reload', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, added: [], unchanged: ['web', 'api'] });
    await writeFile(baton.configFile, configYaml({ web: { health: 'interval: fast' } }));
    const bad = await baton.cli('reload');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/services\.web\.health\.interval: expected a duration/);
    expect(Object.keys(JSON.parse((await baton.cli('status', '--json')).stdout).services)).toEqual(['web', 'api']);
  });

  it('SIGHUP reloads the config, as baton reload does', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    await writeFile(baton.configFile, configYaml({ web: {}, api: { hosts: ['api.test'], version: 'api1' } }));
    baton.proc.kill('SIGHUP');
    let names: string[] = [];
    for (let i = 0; i < 100 && names.length < 2; i++) {
      await sleep(100);
      names = Object.keys(JSON.parse((await baton.cli('status', '--json')).stdout).services);
    }
    expect(names).toEqual(['web', 'api']);
    expect(baton.proc.exitCode).toBeNull();
  });

  it('deploy --canary, promote and maintenance through the CLI', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await baton.cli('deploy', 'web', 'v2', '--canary', '150')).code).toBe(2);
    const canary = await baton.cli('deploy', 'web', 'v2', '--canary', '20');
    expect(canary.code, canary.stderr).toBe(0);
    expect(canary.stdout).toContain('v2 takes 20% of clients');
    expect((await baton.cli('status')).stdout).toContain('canary v2 takes 20% of clients');
    const again = await baton.cli('deploy', 'web', 'v3');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('CANARY_IN_PROGRESS');
    expect((await baton.cli('promote', 'web')).code).toBe(0);
    expect((await status(baton)).active.version).toBe('v2');
    const on = await baton.cli('maintenance', 'web', 'on', '--message', 'Back at 18:00');
    expect(on.stdout).toContain('web in maintenance: Back at 18:00');
    expect((await fetch(`${baton.url}/`)).status).toBe(503);
    expect((await baton.cli('maintenance', 'web', 'off')).stdout).toContain('web serving again');
    expect((await fetch(`${baton.url}/version`)).status).toBe(200);
    expect((await baton.cli('maintenance', 'web', 'maybe')).code).toBe(2);
  });
});

