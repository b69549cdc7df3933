/**
 * Processes of the benchmark: pinned spawning, CPU and memory from /proc, ports, and a registry
 * of everything started so that it is all stopped (by pid) however the run ends.
 */
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { sleep } from './util.js';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Cores: the system under test on SUT_CORE, load generators on LOAD_CORE (when there are two). */
export const cores = os.availableParallelism();
export const pinning = hasTaskset && cores >= 2;
export const SUT_CORE = 0;
export const LOAD_CORE = 1;

/** Pin this process (the orchestrator and the Node load generators it forks) to the load core. */
export function pinSelf() {
  if (pinning) execFileSync('taskset', ['-cp', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
}

/** The command prefix that pins to `core` (empty when not pinning). */
export function pinned(core, cmd, args) {
  return pinning ? { cmd: 'taskset', args: ['-c', String(core), cmd, ...args] } : { cmd, args };
}

const started = new Set(); // pids (and daemon pid files) to stop at exit

/** Spawn `cmd args` pinned to `core`; taskset execs, so the child's pid is the command's. */
export function spawnPinned(core, cmd, args, opts = {}) {
  const p = pinned(core, cmd, args);
  const child = spawn(p.cmd, p.args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  started.add(child.pid);
  child.once('exit', () => started.delete(child.pid));
  let out = '';
  const keep = (c) => {
    out += c.toString();
    if (out.length > 64 * 1024) out = out.slice(-32 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.output = () => out;
  return child;
}

/** Track a daemon's pid (nginx, haproxy) so cleanup() stops it. */
export function track(pid) {
  started.add(pid);
}
export function untrack(pid) {
  started.delete(pid);
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signal a pid and wait for it to go; SIGKILL after `timeoutMs`. */
export async function stopPid(pid, signal = 'SIGTERM', timeoutMs = 15_000) {
  if (pid === undefined || !alive(pid)) {
    started.delete(pid);
    return;
  }
  try {
    process.kill(pid, signal);
  } catch {}
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && !isZombie(pid) && Date.now() < deadline) await sleep(20);
  if (alive(pid) && !isZombie(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  started.delete(pid);
}

function isZombie(pid) {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Stop everything still running that this run started (best effort, synchronous). */
export function cleanup() {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  started.clear();
}

/** User and kernel (system) CPU time of a process (all its threads), in microseconds. */
export function cpuSplitUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the comm field: state is f[0], utime f[11], stime f[12].
    return { user: (Number(f[11]) * 1e6) / CLK_TCK, sys: (Number(f[12]) * 1e6) / CLK_TCK };
  } catch {
    return { user: NaN, sys: NaN };
  }
}

/** user + system CPU time of a process (all its threads), in microseconds. */
export function cpuUs(pid) {
  const { user, sys } = cpuSplitUs(pid);
  return user + sys;
}

/** Resident set size in KiB. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? NaN : Number(m[1]);
  } catch {
    return NaN;
  }
}

/** Direct children of a process. */
export function childrenOf(pid) {
  const out = [];
  try {
    for (const tid of execFileSync('ls', [`/proc/${pid}/task`]).toString().split(/\s+/).filter(Boolean)) {
      const f = `/proc/${pid}/task/${tid}/children`;
      if (existsSync(f)) out.push(...readFileSync(f, 'utf8').split(/\s+/).filter(Boolean).map(Number));
    }
  } catch {}
  return out;
}

/** CPU and RSS of a group of pids, summed. */
export function groupCpuUs(pids) {
  return pids.reduce((a, p) => a + cpuUs(p), 0);
}
export function groupCpuSplitUs(pids) {
  return pids.reduce(
    (a, p) => {
      const c = cpuSplitUs(p);
      return { user: a.user + c.user, sys: a.sys + c.sys };
    },
    { user: 0, sys: 0 },
  );
}
export function groupRssKb(pids) {
  return pids.reduce((a, p) => a + rssKb(p), 0);
}

/**
 * A free TCP port on 127.0.0.1 (the kernel picks one; closed at once, so free, not reserved).
 * The bench's own, not Baton's: the bench must not depend on where the build keeps its helpers.
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** Whether `cmd` is on PATH (or at an absolute path). */
export function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir !== '' && existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return undefined;
}

/** The soft and hard limits on open files, and a shell prefix that raises the soft one. */
export function nofile() {
  try {
    const soft = Number(execFileSync('sh', ['-c', 'ulimit -Sn']).toString().trim());
    const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim());
    return { soft, hard };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/** Voluntary context switches of a process, summed over its threads (/proc/PID/task/TID/status). */
export function voluntarySwitches(pid) {
  let sum = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      if (m !== null) sum += Number(m[1]);
    }
  } catch {
    return NaN;
  }
  return sum;
}

/**
 * The TCP ports a process listens on at 127.0.0.1 (IPv4): its socket inodes (/proc/PID/fd)
 * matched against the listening rows of /proc/net/tcp.
 */
export function listeningPorts(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) inodes.add(m[1]);
      } catch {}
    }
  } catch {
    return [];
  }
  const ports = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address is f[1] (hex ip:port), st f[3] (0A: LISTEN), inode f[9]; 0100007F is 127.0.0.1.
    if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]) || !f[1].startsWith('0100007F:')) continue;
    ports.push(parseInt(f[1].split(':')[1], 16));
  }
  return ports;
}
