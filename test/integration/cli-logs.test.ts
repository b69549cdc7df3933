/**
 * Logs for people (issue 15, points 8 and 10): `baton logs SERVICE [-f] [-n N]` on the process
 * runtime, Baton's own lines in a human format on a terminal (JSON otherwise), and an app's
 * JSON lines passed through as fields.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, dispose, removeDir, runCli, startBaton, stopProcess, type RunningBaton } from '../helpers/baton.js';

let baton: RunningBaton | undefined;
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await stopProcess(c, 5_000);
  await dispose(baton);
  baton = undefined;
  await Promise.all(dirs.splice(0).map(removeDir));
});

/** Says hello at start; GET /say?text=T&to=stdout|stderr|json writes T there; / answers its version. */
const APP = `
import http from 'node:http';
const version = process.env.BATON_VERSION;
console.log('hello from ' + version);
console.log(JSON.stringify({ level: 30, msg: 'app ready', version, port: Number(process.env.PORT) }));
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const text = url.searchParams.get('text');
  if (url.pathname === '/say') {
    const to = url.searchParams.get('to') ?? 'stdout';
    if (to === 'stderr') console.error(text);
    else if (to === 'json') console.log(JSON.stringify({ msg: text, user: { id: 7 } }));
    else console.log(text);
  }
  res.end(version);
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

async function appConfig(): Promise<{ dir: string; yaml: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baton-logs-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'app.mjs'), APP);
  const yaml = `listen: 127.0.0.1:0\ncontrol:\n  socket: ./baton.sock\nservices:\n  web:\n    version: v1\n    process:\n      command: ["node", "app.mjs"]\n    health:\n      path: /\n      interval: 50ms\n    drain:\n      timeout: 2s\n      websocket_grace: 0s\n`;
  return { dir, yaml };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `baton logs` left running (with -f), its output collected. */
function follow(args: string[]): { proc: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, 'logs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, out: () => out, err: () => err, exited };
}

describe('baton logs (process runtime)', () => {
  it("prints the active instance's last N lines as the app wrote them", async () => {
    const { dir, yaml } = await appConfig();
    baton = await startBaton(yaml, { dir });
    await fetch(`${baton.url}/say?text=one`);
    await fetch(`${baton.url}/say?text=two&to=stderr`);
    const all = await baton.cli('logs', 'web');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe(`hello from v1\n{"level":30,"msg":"app ready","version":"v1","port":${JSON.parse(all.stdout.split('\n')[1]!).port}}\none\ntwo\n`);
    const last = await baton.cli('logs', 'web', '-n', '2');
    expect(last.stdout).toBe('one\ntwo\n');
    const json = await baton.cli('logs', 'web', '-n', '1', '--json');
    expect(JSON.parse(json.stdout)).toEqual({ version: 'v1', instance: expect.stringMatching(/^\d+$/), stream: 'stderr', time: expect.any(String), line: 'two' });
  });

  it('with -f streams new lines, and follows the new version across a deploy', async () => {
    const { dir, yaml } = await appConfig();
    baton = await startBaton(yaml, { dir });
    const f = follow(['web', '-f', '-n', '0', '--socket', baton.socket]);
    await new Promise((r) => setTimeout(r, 500));
    await fetch(`${baton.url}/say?text=ping`);
    await until('ping', () => f.out().includes('ping\n'));
    expect((await baton.cli('deploy', 'web', 'v2')).code).toBe(0);
    await until('v2 joined', () => f.out().includes('hello from v2'));
    expect(f.err()).toMatch(/baton: now also following web v2 \(\d+\)/);
    await fetch(`${baton.url}/say?text=pong`);
    await until('pong', () => f.out().includes('pong\n'));
    // Baton stopping ends the stream cleanly.
    await baton.stop();
    expect(await f.exited).toBe(0);
  });

  it('an unknown service or a bad -n is refused with exit 2', async () => {
    const { dir, yaml } = await appConfig();
    baton = await startBaton(yaml, { dir });
    const unknown = await baton.cli('logs', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('UNKNOWN_SERVICE');
    const bad = await baton.cli('logs', 'web', '-n', 'many');
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe('baton: -n: expected a number of lines from 0 to 10000, got "many"');
  });
});

describe("Baton's own log lines", () => {
  /** Baton's log records (JSON lines) in its combined output. */
  function records(output: string): Array<Record<string, unknown>> {
    return output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it("are JSON when stderr is not a terminal, with an app's JSON line passed through as the object app", async () => {
    const { dir, yaml } = await appConfig();
    baton = await startBaton(yaml, { dir });
    await fetch(`${baton.url}/say?text=signed in&to=json`);
    await until('the app line logged', () => baton!.output().includes('signed in'));
    const recs = records(baton.output());
    expect(recs.find((r) => r.msg === 'baton started')).toMatchObject({ level: 30 });
    const ready = recs.find((r) => r.msg === 'app ready');
    expect(ready).toMatchObject({ service: 'web', version: 'v1', stream: 'stdout', app: { level: 30, msg: 'app ready', version: 'v1' } });
    expect(recs.find((r) => r.msg === 'signed in')).toMatchObject({ app: { user: { id: 7 } } });
    // A plain line stays the message.
    expect(recs.find((r) => r.msg === 'hello from v1')).toMatchObject({ stream: 'stdout' });
    expect(recs.find((r) => r.msg === 'hello from v1')).not.toHaveProperty('app');
  });

  it('--log-format pretty and BATON_LOG_FORMAT=pretty print time, level, service, message, fields', async () => {
    const { dir, yaml } = await appConfig();
    baton = await startBaton(yaml, { dir, args: ['--log-format', 'pretty'] });
    const line = /^\d\d:\d\d:\d\d\.\d{3} INFO {2}web {5}process started {2}version=v1 app_pid=\d+ port=\d+$/m;
    expect(baton.output()).toMatch(line);
    // The app's own lines come from its output file, read as they are written: maybe after "serving on".
    await until('the app ready line', () => baton!.output().includes('app ready'));
    expect(baton.output()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}web {5}app ready {2}version=v1 stream=stdout app\.version=v1 app\.port=\d+$/m);
    expect(records(baton.output())).toEqual([]);
    await baton.stop();

    const viaEnv = spawn(process.execPath, [CLI, 'start', '-c', baton.configFile], { env: { ...process.env, BATON_LOG_FORMAT: 'pretty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(viaEnv);
    let out = '';
    viaEnv.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await until('serving', () => out.includes('serving on'));
    expect(out).toMatch(line);
  });

  it('are pretty when stderr is a terminal (under script(1)), and --log-format json overrides it', async () => {
    const { dir, yaml } = await appConfig();
    await writeFile(path.join(dir, 'baton.yaml'), yaml);
    const underTty = async (extra: string): Promise<string> => {
      const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} start -c ${JSON.stringify(path.join(dir, 'baton.yaml'))} ${extra}`;
      const proc = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      children.push(proc);
      let out = '';
      proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      await until('serving', () => out.includes('serving on'));
      const status = await runCli(['status', '--json', '--socket', path.join(dir, 'baton.sock')]);
      process.kill((JSON.parse(status.stdout) as { baton: { pid: number } }).baton.pid, 'SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
      return out.replaceAll('\r', '');
    };
    const pretty = await underTty('');
    expect(pretty).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}baton {3}baton started {2}listen=127\.0\.0\.1:\d+ /m);
    expect(pretty).not.toContain('"msg":"baton started"');
    const json = await underTty('--log-format json');
    expect(json).toContain('"msg":"baton started"');
  });

  it('a bad --log-format or BATON_LOG_FORMAT is bad usage', async () => {
    const flag = await runCli(['start', '--log-format', 'xml']);
    expect(flag.code).toBe(2);
    expect(flag.stderr.split('\n')[0]).toBe('baton: --log-format: expected json or pretty, got "xml"');
    const env = await runCli(['start'], { BATON_LOG_FORMAT: 'yaml' });
    expect(env.code).toBe(2);
    expect(env.stderr.split('\n')[0]).toBe('baton: BATON_LOG_FORMAT: expected json or pretty, got "yaml"');
  });
});
