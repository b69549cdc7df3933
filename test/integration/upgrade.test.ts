/**
 * `baton upgrade` (issue 14): a new Baton process takes over the listeners and the running
 * apps while clients keep going; a new process that fails changes nothing; a Baton that
 * crashed is followed by one that adopts its apps. Real processes, real sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import type http2 from 'node:http2';
import type tls from 'node:tls';
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configYaml, events, removeDir, ROOT, runCli, startBaton, type RunningBaton } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';
import { freePort } from '../../src/runtime/free-port.js';
import { h2Connect, h2Request, handshake, issueCert, makeCa } from '../helpers/tls.js';
import type { StatusBody } from '../../src/control/protocol.js';

const CLIENTS = 32;

/** Every Baton and app pid a test saw: whatever is left is killed by pid afterwards. */
const pids = new Set<number>();
const dirs: string[] = [];
afterEach(async () => {
  for (const pid of pids) if (alive(pid)) await stopPid(pid);
  pids.clear();
  await Promise.all(dirs.splice(0).map(removeDir));
});

/** Running (a zombie, exited but not yet reaped by its new parent, is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL after 30 s; resolves once the pid is gone. */
async function stopPid(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

async function status(socket: string): Promise<StatusBody> {
  const r = await control(socket, 'GET', '/v1/status');
  expect(r.status).toBe(200);
  return r.body as StatusBody;
}

async function appPids(socket: string): Promise<string[]> {
  return (await status(socket)).services.web!.replicas.map((r) => r.id);
}

async function started(yaml: string, opts: Parameters<typeof startBaton>[1] = {}): Promise<RunningBaton> {
  const b = await startBaton(yaml, opts);
  dirs.push(b.dir);
  pids.add(b.proc.pid!);
  for (const id of await appPids(b.socket)) pids.add(Number(id));
  return b;
}

interface Tally {
  ok: number;
  failed: string[];
  /** HTTP/2 streams refused unprocessed at a GOAWAY, sent again. */
  retried?: number;
}

/** 32 keep-alive clients, GETs and echoed POSTs alternating, until stopped (2 minutes at most). */
function keepAliveLoad(port: number): { stop: () => Promise<Tally> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const tally: Tally = { ok: 0, failed: [] };
  let running = true;
  const hardStop = performance.now() + 120_000;
  const clients = Array.from({ length: CLIENTS }, async (_, i) => {
    for (let n = 0; running && performance.now() < hardStop; n++) {
      const why = await once(agent, port, (n + i) % 2 === 0);
      if (why === undefined) tally.ok++;
      else tally.failed.push(why);
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      return tally;
    },
  };
}

/** One request; undefined when it was answered right, else what went wrong. */
function once(agent: http.Agent | false, port: number, post: boolean, path_ = post ? '/echo' : '/version'): Promise<string | undefined> {
  const body = post ? randomBytes(Math.floor(Math.random() * 32 * 1024)) : undefined;
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, agent, method: post ? 'POST' : 'GET', path: path_, headers: post ? { 'content-type': 'application/octet-stream', 'content-length': body!.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const got = Buffer.concat(chunks);
          if (res.statusCode !== 200) return resolve(`status ${res.statusCode} ${got.toString().slice(0, 80)}`);
          if (post && Buffer.compare(got, body!) !== 0) return resolve(`echo differs (${got.length} vs ${body!.length} bytes)`);
          resolve(undefined);
        });
        res.on('error', (err) => resolve(`response error ${err.message}`));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`request error ${err.code ?? err.message}`));
    req.end(body);
  });
}

/** A new connection for every request, one after the other, as fast as they go. */
function connectionLoop(port: number): { stop: () => Promise<Tally> } {
  const tally: Tally = { ok: 0, failed: [] };
  let running = true;
  const hardStop = performance.now() + 120_000;
  const loop = (async () => {
    while (running && performance.now() < hardStop) {
      const why = await once(false, port, false);
      if (why === undefined) tally.ok++;
      else tally.failed.push(why);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return tally;
    },
  };
}

/** `baton upgrade --json` through the CLI: its events, the new pid. */
async function upgradeByCli(b: RunningBaton): Promise<{ steps: string[]; pid: number; ms: number }> {
  const r = await runCli(['upgrade', '--json', '--socket', b.socket]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const evs = events(r.stdout);
  const done = evs.at(-1)!;
  expect(done).toMatchObject({ done: true, ok: true });
  return { steps: evs.filter((e) => e.step !== undefined).map((e) => String(e.step)), pid: Number(done.pid), ms: Number(done.ms) };
}

describe('baton upgrade', () => {
  it(`under ${CLIENTS} keep-alive clients and a loop of new connections, three upgrades (two by the CLI, one by SIGUSR2) fail no request and refuse no connection; the app is not restarted`, async () => {
    const b = await started(configYaml({ web: { extra: 'drain:\n  timeout: 10s\n  websocket_grace: 1s' } }));
    const [appPid] = await appPids(b.socket);
    const batonPids = [b.proc.pid!];
    const load = keepAliveLoad(b.port);
    const connections = connectionLoop(b.port);
    await new Promise((r) => setTimeout(r, 300));

    // Opened before the upgrade: it keeps echoing on the old process until the grace, then 1012.
    const ws = new WebSocket(`ws://127.0.0.1:${b.port}/ws`);
    let echoesAfter = 0;
    let upgradeBegan = Infinity;
    ws.on('message', () => {
      if (performance.now() > upgradeBegan) echoesAfter++;
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const wsClosed = new Promise<{ code: number; at: number }>((resolve) => ws.once('close', (code) => resolve({ code, at: performance.now() })));
    const pinger = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('ping'), 100);
    // A 2 s request in flight on the old process when it hands over.
    const slowBegan = performance.now();
    const slow = once(new http.Agent(), b.port, false, '/slow?ms=2000').then((why) => ({ why, ms: performance.now() - slowBegan }));
    await new Promise((r) => setTimeout(r, 100));

    upgradeBegan = performance.now();
    const first = await upgradeByCli(b);
    expect(first.steps).toEqual(['spawn', 'adopt', 'ready', 'handover', 'drain']);
    batonPids.push(first.pid);
    pids.add(first.pid);
    const closed = await wsClosed;
    clearInterval(pinger);
    const slowDone = await slow;

    // SIGUSR2 to the Baton now running.
    process.kill(first.pid, 'SIGUSR2');
    const second = await until('a new pid after SIGUSR2', async () => {
      const pid = (await status(b.socket).catch(() => undefined))?.baton.pid;
      return pid !== undefined && pid !== first.pid ? pid : undefined;
    });
    batonPids.push(second);
    pids.add(second);
    await until('the SIGUSR2 upgrade finished', () => !alive(first.pid));

    const third = await upgradeByCli(b);
    batonPids.push(third.pid);
    pids.add(third.pid);
    await new Promise((r) => setTimeout(r, 300));
    const tally = await load.stop();
    const conns = await connections.stop();

    console.log(
      `[upgrade] requests=${tally.ok + tally.failed.length} failed=${tally.failed.length} new_connections=${conns.ok + conns.failed.length} refused_or_failed=${conns.failed.length} ` +
        `upgrade_ms=${first.ms},${third.ms} pids=${batonPids.join('->')} ws_close=${closed.code} after ${Math.round(closed.at - upgradeBegan)} ms (${echoesAfter} echoes meanwhile) slow=${Math.round(slowDone.ms)} ms`,
    );
    expect(tally.failed.slice(0, 5)).toEqual([]);
    expect(conns.failed.slice(0, 5)).toEqual([]);
    expect(tally.ok).toBeGreaterThan(3 * CLIENTS);
    expect(conns.ok).toBeGreaterThan(10);
    expect(new Set(batonPids).size).toBe(4);
    // Each old one exits once its last connection has ended (a second idle at most, then cut).
    for (const old of batonPids.slice(0, -1)) await until(`old Baton ${old} gone`, () => !alive(old), 10_000);
    expect(await appPids(b.socket)).toEqual([appPid]);
    expect(slowDone).toMatchObject({ why: undefined });
    expect(slowDone.ms).toBeGreaterThanOrEqual(1900);
    expect(closed.code).toBe(1012);
    expect(echoesAfter).toBeGreaterThan(0);
    // It outlived the hand-over (spawn and adopt take a few hundred ms) by its grace.
    expect(closed.at - upgradeBegan).toBeGreaterThan(1000);
    // Its log goes where the first one's went.
    await until('the last Baton logging on the first one\'s stderr', () => b.output().includes(`"pid":${third.pid}`) || b.output().includes(`pid ${third.pid}`));

    // It is Baton in full: a deploy works, and SIGTERM stops it and its apps.
    const deploy = await b.cli('deploy', 'web', 'v2');
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
    expect((await status(b.socket)).services.web!.active?.version).toBe('v2');
    const v2 = Number((await appPids(b.socket))[0]);
    pids.add(v2);
    await stopPid(third.pid);
    await until('the app stopped with Baton', () => !alive(v2));
  }, 120_000);

  it('a new process that fails (a broken build, a failed adoption) changes nothing: exit 1 with its output, the old one serves on', async () => {
    // Baton run from a copy of the installed code, so the test can break the copy.
    const install = await mkdtemp(path.join(tmpdir(), 'baton-install-'));
    dirs.push(install);
    await cp(path.join(ROOT, 'dist'), path.join(install, 'dist'), { recursive: true });
    await cp(path.join(ROOT, 'package.json'), path.join(install, 'package.json'));
    await symlink(path.join(ROOT, 'node_modules'), path.join(install, 'node_modules'));
    const entry = path.join(install, 'dist/cli.js');
    const good = await readFile(entry, 'utf8');
    const b = await started(configYaml({ web: { health: 'interval: 50ms\ndeadline: 4s' } }), { cli: entry });
    const batonPid = b.proc.pid!;
    const [appPid] = await appPids(b.socket);
    const load = keepAliveLoad(b.port);

    // 1. The installed code is broken: the new process exits at once.
    await writeFile(entry, "console.error('boom: this build of Baton is broken');\nprocess.exit(1);\n");
    const broken = await runCli(['upgrade', '--socket', b.socket]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('failed    at adopt: the new Baton exited (exit code 1) before it was ready');
    expect(broken.stdout).toContain('boom: this build of Baton is broken');
    expect(broken.stdout).toContain('the running Baton serves on');
    await writeFile(entry, good);

    // 2. The config file changed since it was applied: refused before anything starts.
    const yaml = await readFile(b.configFile, 'utf8');
    await writeFile(b.configFile, yaml.replace('version: v1', 'version: v9'));
    const changed = await runCli(['upgrade', '--socket', b.socket]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/differs from the config applied \(web\).*baton reload.*\[CONFIG_CHANGED\]/);
    await writeFile(b.configFile, yaml);

    // 3. During a swap (one that waits for a health check that never passes): refused with 409.
    const deploy = runCli(['deploy', 'web', 'never2', '--socket', b.socket]);
    await until('the deploy under way', async () => (await status(b.socket)).services.web!.state === 'swapping');
    const during = await runCli(['upgrade', '--socket', b.socket]);
    expect(during.code).toBe(1);
    expect(during.stderr).toMatch(/a swap is running \(web\).*\[SWAP_IN_PROGRESS\]/);
    expect((await deploy).code).toBe(1);

    const tally = await load.stop();
    console.log(`[upgrade failures] requests=${tally.ok + tally.failed.length} failed=${tally.failed.length}`);
    expect(tally.failed.slice(0, 5)).toEqual([]);
    expect((await status(b.socket)).baton.pid).toBe(batonPid);
    expect(await appPids(b.socket)).toEqual([appPid]);
  }, 90_000);

  it('a new process that cannot adopt (BATON_UPGRADE_FAULT=adopt) lets go of the apps it found without stopping them', async () => {
    const b = await started(configYaml({ web: { extra: 'replicas: 2' } }), { env: { BATON_UPGRADE_FAULT: 'adopt' } });
    const before = await appPids(b.socket);
    const load = keepAliveLoad(b.port);
    const r = await runCli(['upgrade', '--json', '--socket', b.socket]);
    const tally = await load.stop();
    expect(r.code).toBe(1);
    const evs = events(r.stdout);
    const spawned = Number(evs.find((e) => e.step === 'spawn')!.pid);
    pids.add(spawned);
    expect(evs.at(-1)).toMatchObject({ done: true, ok: false, error: { code: 'ADOPTION_FAILED', step: 'adopt' } });
    await until('the failed successor gone', () => !alive(spawned));
    expect(tally.failed.slice(0, 5)).toEqual([]);
    expect(await appPids(b.socket)).toEqual(before);
    for (const pid of before) expect(alive(Number(pid))).toBe(true);
    expect((await status(b.socket)).baton.pid).toBe(b.proc.pid);
    // The socket file is still there and still the old one's.
    expect((await runCli(['status', '--socket', b.socket])).code).toBe(0);
  }, 60_000);

  it('a new process not ready within --timeout is killed; a second upgrade meanwhile gets 409', async () => {
    const b = await started(configYaml({ web: {} }), { env: { BATON_UPGRADE_FAULT: 'hang' } });
    const first = runCli(['upgrade', '--timeout', '3s', '--json', '--socket', b.socket]);
    await until('the upgrade under way', () => b.output().includes('upgrade: spawn'));
    const second = await runCli(['upgrade', '--socket', b.socket]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already running.*\[UPGRADE_IN_PROGRESS\]/);
    const deploy = await runCli(['deploy', 'web', 'v2', '--socket', b.socket]);
    expect(deploy.code).toBe(1);
    expect(deploy.stderr).toContain('[UPGRADE_IN_PROGRESS]');
    const r = await first;
    expect(r.code).toBe(1);
    const evs = events(r.stdout);
    const spawned = Number(evs.find((e) => e.step === 'spawn')!.pid);
    pids.add(spawned);
    expect(evs.at(-1)).toMatchObject({ done: true, ok: false, error: { step: 'ready', message: 'the new Baton was not ready in time' } });
    await until('the hung successor killed', () => !alive(spawned));
    expect(await once(false, b.port, false)).toBeUndefined();
    // Over: the next deploy goes ahead.
    expect((await runCli(['deploy', 'web', 'v2', '--socket', b.socket])).code).toBe(0);
    for (const id of await appPids(b.socket)) pids.add(Number(id));
  }, 60_000);
});

describe('after a crash', () => {
  /** Processes whose environment carries `mark`: the apps of one test, however they were started. */
  async function marked(mark: string): Promise<number[]> {
    const found: number[] = [];
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const env = await readFile(`/proc/${name}/environ`, 'latin1').catch(() => '');
      if (env.split('\0').includes(`TEST_MARK=${mark}`)) found.push(Number(name));
    }
    return found;
  }

  it('requests held by a pause are released to the same app at the hand-over; the new process keeps the pause', async () => {
    const b = await started(configYaml({ web: {} }));
    const [appPid] = await appPids(b.socket);
    expect((await b.cli('pause', 'web')).code).toBe(0);
    const get = (): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: b.port, path: '/version', agent: false }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
          })
          .on('error', reject);
      });
    const held = [get(), get(), get()];
    await until('three requests held', async () => (await status(b.socket)).services.web!.queued === 3);

    const up = await upgradeByCli(b);
    pids.add(up.pid);
    const answers = await Promise.all(held);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    for (const a of answers) expect(JSON.parse(a.body)).toMatchObject({ version: 'v1' });

    // The new process is paused too: a request it takes waits for the resume.
    const now = await status(b.socket);
    expect(now.baton.pid).toBe(up.pid);
    expect(now.services.web!.state).toBe('paused');
    expect(await appPids(b.socket)).toEqual([appPid]);
    let answered = false;
    const later = get().then((a) => ((answered = true), a));
    await until('the request held by the new process', async () => (await status(b.socket)).services.web!.queued === 1);
    expect(answered).toBe(false);
    expect((await b.cli('resume', 'web')).code).toBe(0);
    expect((await later).status).toBe(200);
  }, 60_000);

  it('the access log loses no line at the hand-over: the old process writes its last ones, the new one appends to the same file', async () => {
    const b = await started(configYaml({ web: {} }, 'access_log:\n  path: ./access.log\n'));
    const oldPid = b.proc.pid!;
    const load = keepAliveLoad(b.port);
    const loop = connectionLoop(b.port);
    await new Promise((r) => setTimeout(r, 300));
    const up = await upgradeByCli(b);
    pids.add(up.pid);
    await new Promise((r) => setTimeout(r, 300));
    const [kept, fresh] = await Promise.all([load.stop(), loop.stop()]);
    expect([...kept.failed, ...fresh.failed]).toEqual([]);
    await until('the old process gone', () => !alive(oldPid));
    const file = path.join(b.dir, 'access.log');
    const count = async (): Promise<number> => (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').length;
    const answered = kept.ok + fresh.ok;
    await until(`${answered} lines`, async () => (await count()) >= answered, 5_000).catch(() => undefined);
    expect(await count()).toBe(answered);
  }, 60_000);

  it('a listen address changed by a reload is bound by the next upgrade; a changed state_file refuses the upgrade', async () => {
    const b = await started(configYaml({ web: {} }));
    const yaml = await readFile(b.configFile, 'utf8');
    const port = await freePort();
    await writeFile(b.configFile, yaml.replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`));
    const reload = await b.cli('reload');
    expect(reload.code, reload.stdout + reload.stderr).toBe(0);
    expect(reload.stdout).toContain('not applied: listen (applied by `baton upgrade` or a restart)');

    const up = await upgradeByCli(b);
    pids.add(up.pid);
    expect((await status(b.socket)).baton.listen).toBe(`127.0.0.1:${port}`);
    expect(await once(false, port, false)).toBeUndefined();
    await until('the old Baton gone', () => !alive(b.proc.pid!), 10_000);
    // The old address closed with the old process.
    expect(await once(false, b.port, false)).toMatch(/ECONNREFUSED/);

    await writeFile(b.configFile, (await readFile(b.configFile, 'utf8')).replace(/^control:/m, `state_file: ${path.join(b.dir, 'moved.state.json')}\ncontrol:`));
    const moved = await b.cli('reload');
    expect(moved.stdout).toContain('not applied: state_file (needs a stop and start)');
    const refused = await runCli(['upgrade', '--socket', b.socket]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/state_file changed .* stop and start Baton to move it.*\[CONFIG_CHANGED\]/);
  }, 60_000);

  it('kill -9 of Baton leaves its apps running; the next start adopts them (none duplicated) and stops those of a service no longer configured', async () => {
    const mark = randomBytes(6).toString('hex');
    const yaml = configYaml({ web: { env: { TEST_MARK: mark } }, api: { hosts: ['api.test'], env: { TEST_MARK: mark } } });
    const b = await started(yaml);
    const apps = await marked(mark);
    expect(apps).toHaveLength(2);
    for (const pid of apps) pids.add(pid);
    const [web] = await appPids(b.socket);

    b.proc.kill('SIGKILL');
    await until('Baton gone', () => b.proc.exitCode !== null || b.proc.signalCode !== null);
    expect((await marked(mark)).sort()).toEqual([...apps].sort());

    // Started again without api: web's app is adopted, api's is stopped.
    const again = await started(yaml.slice(0, yaml.indexOf('  api:')), { dir: b.dir });
    expect(again.output()).toContain('running instance adopted');
    expect(await appPids(again.socket)).toEqual([web]);
    await until("api's app stopped", async () => (await marked(mark)).length === 1);
    expect(await marked(mark)).toEqual([Number(web)]);
    expect(await once(false, again.port, false, '/version')).toBeUndefined();
  }, 60_000);
});

describe('under systemd', () => {
  /** systemd's side of sd_notify: a Unix datagram socket (Python: Node has no AF_UNIX datagrams), one line per message. */
  function notifySocket(file: string): { messages: () => string[]; close: () => void } {
    const script = 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound",flush=True)\nwhile True:\n  print(s.recv(4096).decode().replace("\\n"," "),flush=True)\n';
    const child = spawn('python3', ['-c', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.add(child.pid!);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    return { messages: () => out.split('\n').filter((l) => l !== '' && l !== 'bound'), close: () => child.kill('SIGKILL') };
  }

  it('a Baton under systemd says READY=1 with its pid, its successor says MAINPID=; the pid file follows; a stop says STOPPING=1 and removes it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-systemd-'));
    dirs.push(dir);
    const sock = path.join(dir, 'notify.sock');
    const systemd = notifySocket(sock);
    await until('the notify socket bound', () => existsSync(sock));
    const pidFile = path.join(dir, 'baton.pid');
    const b = await started(configYaml({ web: {} }), { env: { NOTIFY_SOCKET: sock }, args: ['--pid-file', pidFile] });
    const first = b.proc.pid!;
    await until('READY=1', () => systemd.messages().find((m) => m.startsWith('READY=1 ') && m.includes(`MAINPID=${first}`)));
    expect((await readFile(pidFile, 'utf8')).trim()).toBe(String(first));

    const up = await upgradeByCli(b);
    pids.add(up.pid);
    await until('MAINPID of the new process', () => systemd.messages().find((m) => m.includes(`MAINPID=${up.pid}`)));
    expect((await readFile(pidFile, 'utf8')).trim()).toBe(String(up.pid));
    await until('the old Baton gone', () => !alive(first), 10_000);

    await stopPid(up.pid);
    await until('STOPPING=1', () => systemd.messages().includes('STOPPING=1'));
    expect(existsSync(pidFile)).toBe(false);
    systemd.close();
  }, 60_000);
});

describe('over TLS', () => {
  /** HTTPS/1.1 (keep-alive) and HTTP/2 (a session per client, a new one after a GOAWAY) clients, GETs and echoed POSTs. */
  function tlsLoad(port: number, ca: string, clients: number): { stop: () => Promise<Tally> } {
    const agent = new https.Agent({ keepAlive: true, maxSockets: clients, ca, servername: 'localhost' });
    const tally: Tally = { ok: 0, failed: [] };
    let running = true;
    const hardStop = performance.now() + 120_000;
    const check = (status: number, got: Buffer, body: Buffer | undefined): string | undefined =>
      status !== 200 ? `status ${status}` : body !== undefined && Buffer.compare(got, body) !== 0 ? 'echo differs' : undefined;
    const h1 = (post: boolean): Promise<string | undefined> => {
      const body = post ? randomBytes(1 + Math.floor(Math.random() * 16 * 1024)) : undefined;
      return new Promise((resolve) => {
        const req = https.request({ host: '127.0.0.1', port, agent, method: post ? 'POST' : 'GET', path: post ? '/echo' : '/version', headers: { host: 'localhost' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(check(res.statusCode ?? 0, Buffer.concat(chunks), body)));
          res.on('error', (err) => resolve(`https response error ${err.message}`));
        });
        req.on('error', (err: NodeJS.ErrnoException) => resolve(`https request error ${err.code ?? err.message}`));
        req.end(body);
      });
    };
    const h2Client = async (): Promise<void> => {
      let session: http2.ClientHttp2Session | undefined;
      for (let n = 0; running && performance.now() < hardStop; n++) {
        // A session the server sent GOAWAY on takes no new stream: open another, as browsers do.
        if (session === undefined || session.closed || session.destroyed || (session as { goawayed?: boolean }).goawayed === true) session = await h2Connect(port, ca);
        const s = session;
        s.once('goaway', () => ((s as { goawayed?: boolean }).goawayed = true));
        const post = n % 2 === 0;
        const body = post ? randomBytes(1 + Math.floor(Math.random() * 16 * 1024)) : undefined;
        const why = await h2Request(s, { ':method': post ? 'POST' : 'GET', ':path': post ? '/echo' : '/version' }, body).then(
          (r) => check(r.status, r.body, body),
          (err: Error) => `h2 ${err.message}`,
        );
        // A stream that crossed the server's GOAWAY was not processed (RFC 9113 8.7): browsers
        // and curl send it again on a new connection, so does this client.
        if (why?.includes('NGHTTP2_REFUSED_STREAM') === true) {
          tally.retried = (tally.retried ?? 0) + 1;
          n--;
          continue;
        }
        if (why === undefined) tally.ok++;
        else tally.failed.push(why);
      }
      session?.close();
    };
    const all = [
      ...Array.from({ length: clients }, async () => {
        for (let n = 0; running && performance.now() < hardStop; n++) {
          const why = await h1(n % 2 === 0);
          if (why === undefined) tally.ok++;
          else tally.failed.push(why);
        }
      }),
      ...Array.from({ length: clients }, h2Client),
    ];
    return {
      stop: async () => {
        running = false;
        await Promise.all(all);
        agent.destroy();
        return tally;
      },
    };
  }

  it('a TLS session from the old process resumes on the new one; HTTPS/1.1 and HTTP/2 clients see no failure across the upgrade', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-upgrade-tls-'));
    dirs.push(dir);
    const ca = makeCa(dir);
    issueCert(ca, 'site', ['localhost']);
    const tlsPort = await freePort();
    const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  redirect_http: false\n  certificates:\n    - { cert: ${path.join(dir, 'site.pem')}, key: ${path.join(dir, 'site.key')} }\n`;
    const b = await started(configYaml({ web: { extra: 'drain:\n  timeout: 10s\n  websocket_grace: 1s' } }, top));
    const tickets: Array<[tls.SecureVersion, Buffer]> = [];
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      let session: Buffer | undefined;
      await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, onSession: (s) => (session = s) });
      tickets.push([maxVersion, session!]);
    }
    const load = tlsLoad(tlsPort, ca.pem, 8);
    const resumed: Record<string, boolean> = {};
    let up: Awaited<ReturnType<typeof upgradeByCli>> | undefined;
    let tally: Tally;
    try {
      await new Promise((r) => setTimeout(r, 300));
      up = await upgradeByCli(b);
      pids.add(up.pid);
      await until('the old Baton gone', () => !alive(b.proc.pid!), 10_000);
      // Only the new process accepts now: a resumed handshake is its doing.
      for (const [maxVersion, session] of tickets) resumed[maxVersion] = (await handshake(tlsPort, { servername: 'localhost', ca: ca.pem, maxVersion, session })).reused;
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      tally = await load.stop();
    }
    expect(resumed).toEqual({ 'TLSv1.2': true, 'TLSv1.3': true });
    console.log(`[upgrade tls] requests=${tally.ok + tally.failed.length} failed=${tally.failed.length} h2_refused_and_retried=${tally.retried ?? 0} upgrade_ms=${up!.ms}`);
    expect(tally.failed.slice(0, 5)).toEqual([]);
    expect(tally.ok).toBeGreaterThan(100);
  }, 60_000);
});
