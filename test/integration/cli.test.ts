import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configYaml, removeDir, runCli, startBaton, stopProcess, type RunningBaton, dispose } from '../helpers/baton.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('command line', () => {
  it('every command has --help', async () => {
    for (const cmd of ['start', 'validate', 'deploy', 'rollback', 'pause', 'resume', 'status', 'notify', 'logs', 'version', 'help', 'completion']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toContain(`baton ${cmd}`);
    }
  });

  it('bad usage exits 2 with a one-line reason naming the culprit', async () => {
    const cases: Array<[string[], string]> = [
      [['deploy', 'web'], 'VERSION'],
      [['frobnicate'], 'frobnicate'],
      [['status', '--bogus'], '--bogus'],
      [['pause', 'web', '--timeout', 'fast'], 'fast'],
    ];
    for (const [args, culprit] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0], args.join(' ')).toContain(culprit);
    }
  });

  it('an unreadable or invalid config exits 2 naming the file and key', async () => {
    const missing = await runCli(['start', '-c', '/nonexistent/baton.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/baton.yaml');
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    await writeFile(path.join(dir, 'bad.yaml'), configYaml({ web: { health: 'interval: fast' } }));
    const bad = await runCli(['start', '-c', path.join(dir, 'bad.yaml')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('services.web.health.interval');
    expect(bad.stderr).toMatch(/line \d+/);
    await removeDir(dir);
  });

  it('commands exit 3 (not 1, "the operation failed") with a clear message when no Baton listens on the socket', async () => {
    for (const args of [['status'], ['deploy', 'web', 'v2'], ['logs', 'web']]) {
      const r = await runCli([...args, '--socket', '/tmp/baton-none.sock']);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr, args.join(' ')).toContain('no Baton is listening on /tmp/baton-none.sock');
    }
  });

  it('options may come before the positional arguments', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const r = await runCli(['--socket', baton.socket, 'deploy', '--json', 'web', 'v2']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('the socket is found through BATON_SOCKET and through -c FILE', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await runCli(['status'], { BATON_SOCKET: baton.socket })).code).toBe(0);
    expect((await runCli(['status', '-c', baton.configFile])).code).toBe(0);
  });

  it('the control socket is created with mode 0600', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    expect((await stat(baton.socket)).mode & 0o777).toBe(0o600);
  });

  it('start exits 1 when a service never becomes healthy', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    await writeFile(path.join(dir, 'baton.yaml'), configYaml({ web: { version: 'crash1' } }));
    const r = await runCli(['start', '-c', path.join(dir, 'baton.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('crash1');
    await removeDir(dir);
  });

  it('on SIGTERM Baton finishes in-flight requests, stops its app processes and removes its socket', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const status = JSON.parse((await baton.cli('status', '--json')).stdout);
    const appPort = Number(status.services.web.active.address.split(':')[1]);
    const slow = fetch(`${baton.url}/slow?ms=800`);
    await new Promise((r) => setTimeout(r, 150));
    const code = await stopProcess(baton.proc);
    expect(code).toBe(0);
    expect((await slow).status).toBe(200);
    await expect(stat(baton.socket)).rejects.toThrow();
    // The app no longer listens.
    await expect(fetch(`http://127.0.0.1:${appPort}/healthz`)).rejects.toThrow();
    await removeDir(baton.dir);
    baton = undefined;
  });

  it('a second Baton on the same socket is refused while the first runs', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const r = await runCli(['start', '-c', baton.configFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already listening');
    // The first one still answers.
    expect((await baton.cli('status')).code).toBe(0);
  });
});
