/**
 * The process runtime as an operator meets it (issue 15, points 5 and 7): apps in their own
 * process group, so a terminal's Ctrl-C reaches Baton only; `{version}` in `process.cwd`; a
 * missing folder or command named as such.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, dispose, events, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';

let baton: RunningBaton | undefined;
const dirs: string[] = [];
const pids: number[] = [];
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
  // Anything a failed test left running is killed by the pid it recorded.
  for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await Promise.all(dirs.splice(0).map(removeDir));
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An app that serves /healthz and / (its version and folder), appends every signal it gets to
 * `signals.log` in its folder, ignores SIGINT, exits on SIGTERM unless IGNORE_TERM is set, and
 * writes its pid to `pid-<version>`.
 */
const APP = `
import http from 'node:http';
import { appendFileSync, writeFileSync } from 'node:fs';
const version = process.env.BATON_VERSION;
writeFileSync(process.cwd() + '/pid-' + version, String(process.pid));
const note = (s) => appendFileSync(process.cwd() + '/signals.log', version + ' ' + s + '\\n');
process.on('SIGINT', () => note('SIGINT'));
process.on('SIGTERM', () => { note('SIGTERM'); if (!process.env.IGNORE_TERM) process.exit(0); });
http.createServer((req, res) => res.end(JSON.stringify({ version, cwd: process.cwd() }))).listen(Number(process.env.PORT), '127.0.0.1');
console.log('app ' + version + ' up in ' + process.cwd());
`;

async function appDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baton-proc-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'app.mjs'), APP);
  return dir;
}

function yaml(service: string): string {
  return `listen: 127.0.0.1:0\ncontrol:\n  socket: ./baton.sock\nservices:\n  web:\n    version: v1\n${service.replace(/^/gm, '    ')}\n    health:\n      path: /\n      interval: 50ms\n      deadline: 10s\n`;
}

async function pidOf(dir: string, version: string): Promise<number> {
  let text = '';
  await until(`pid-${version}`, async () => (text = await readFile(path.join(dir, `pid-${version}`), 'utf8').catch(() => '')) !== '');
  const pid = Number(text);
  pids.push(pid);
  return pid;
}

/** Field 5 of /proc/PID/stat: the process group. */
async function pgrpOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

describe('app processes in their own process group', () => {
  it('an app leads a process group of its own, not Baton\'s', async () => {
    const dir = await appDir();
    baton = await startBaton(yaml(`process:\n  command: ["node", "app.mjs"]`), { dir });
    const app = await pidOf(dir, 'v1');
    expect(await pgrpOf(app)).toBe(app);
    expect(await pgrpOf(baton.proc.pid!)).not.toBe(app);
  });

  it("Ctrl-C in a terminal (SIGINT to Baton's process group) reaches Baton only: the app is stopped by Baton with SIGTERM", async () => {
    const dir = await appDir();
    await writeFile(path.join(dir, 'baton.yaml'), yaml(`process:\n  command: ["node", "app.mjs"]`));
    // Baton as a terminal's foreground job: the leader of a process group the terminal signals as a whole.
    const proc = spawn(process.execPath, [CLI, 'start', '-c', path.join(dir, 'baton.yaml')], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    pids.push(proc.pid!);
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await until('baton serving', () => out.includes('serving on'));
    const app = await pidOf(dir, 'v1');
    process.kill(-proc.pid!, 'SIGINT');
    expect(await exited, out).toBe(0);
    await until('the app gone', () => !alive(app));
    const signals = await readFile(path.join(dir, 'signals.log'), 'utf8');
    expect(signals).toBe('v1 SIGTERM\n');
  });

  it('an app started through a wrapper is stopped with its children (the signal goes to the group)', async () => {
    const dir = await appDir();
    // `sh -c "node app.mjs; true"` forks node rather than exec'ing it: SIGTERM to sh alone would orphan node.
    baton = await startBaton(yaml(`process:\n  command: ["sh", "-c", "node app.mjs; true"]`), { dir });
    const app = await pidOf(dir, 'v1');
    expect(await baton.stop()).toBe(0);
    await until('the wrapped app gone', () => !alive(app), 5_000);
  });

  it('a second signal makes Baton exit at once, and its exit handler still kills the app groups', async () => {
    const dir = await appDir();
    baton = await startBaton(yaml(`process:\n  command: ["node", "app.mjs"]\n  env:\n    IGNORE_TERM: "1"`), { dir });
    const app = await pidOf(dir, 'v1');
    const exited = new Promise<number | null>((resolve) => baton!.proc.once('exit', (code) => resolve(code)));
    baton.proc.kill('SIGTERM');
    await until('the app got SIGTERM', async () => (await readFile(path.join(dir, 'signals.log'), 'utf8').catch(() => '')).includes('SIGTERM'));
    baton.proc.kill('SIGTERM');
    expect(await exited).toBe(1);
    await until('the app killed', () => !alive(app), 5_000);
  });
});

describe('process.cwd and command', () => {
  async function releases(dir: string, versions: string[]): Promise<void> {
    for (const v of versions) {
      await mkdir(path.join(dir, 'releases', v), { recursive: true });
      await writeFile(path.join(dir, 'releases', v, 'app.mjs'), APP);
    }
  }

  it('{version} in process.cwd is replaced: each version runs from its own folder', async () => {
    const dir = await appDir();
    await releases(dir, ['v1', 'v2']);
    baton = await startBaton(yaml(`process:\n  command: ["node", "app.mjs"]\n  cwd: ./releases/{version}`), { dir });
    expect(await (await fetch(baton.url)).json()).toEqual({ version: 'v1', cwd: path.join(dir, 'releases/v1') });
    const r = await baton.cli('deploy', 'web', 'v2');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await (await fetch(baton.url)).json()).toEqual({ version: 'v2', cwd: path.join(dir, 'releases/v2') });
  });

  it('a missing process.cwd fails the deploy naming the folder, not as "spawn node ENOENT"', async () => {
    const dir = await appDir();
    await releases(dir, ['v1']);
    baton = await startBaton(yaml(`process:\n  command: ["node", "app.mjs"]\n  cwd: ./releases/{version}`), { dir });
    const text = await baton.cli('deploy', 'web', 'v9');
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`failed    at start: process.cwd ${path.join(dir, 'releases/v9')} does not exist`);
    expect(text.stdout).not.toContain('ENOENT');
    const json = await baton.cli('deploy', 'web', 'v9', '--json');
    expect(events(json.stdout).at(-1)).toMatchObject({ ok: false, error: { code: 'START_FAILED', step: 'start' } });
  });

  it('a command that is not found says so', async () => {
    const dir = await appDir();
    await writeFile(path.join(dir, 'baton.yaml'), yaml(`process:\n  command: ["nod", "app.mjs"]`));
    const proc = spawn(process.execPath, [CLI, 'start', '-c', path.join(dir, 'baton.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    pids.push(proc.pid!);
    let err = '';
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(code).toBe(1);
    expect(err).toContain('baton: command "nod" not found on PATH');
  });
});
