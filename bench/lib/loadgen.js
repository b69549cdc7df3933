/**
 * Load generators: wrk (pinned to the load core) when installed, else the Node one in
 * clients/http-load.js (forked; it inherits the orchestrator's pinning to the load core).
 */
import { execFile, fork } from 'node:child_process';
import path from 'node:path';
import { BENCH } from './baton.js';
import { pinned, LOAD_CORE, which } from './procs.js';

// BENCH_LOADGEN=node forces the Node generator (to check the fallback where wrk is installed).
const wrkBin = process.env.BENCH_LOADGEN === 'node' ? undefined : which('wrk');

export function loadGeneratorName() {
  return wrkBin !== undefined
    ? 'wrk (Debian), -t1, keep-alive, 2 s timeout'
    : 'node (bench/clients/http-load.js; wrk not found): it saturates before a direct Node upstream does, so "× direct" overstates every proxy';
}

export const hasWrk = wrkBin !== undefined;

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** GET `url` at `c` keep-alive connections for `seconds`; req/s, p50, p99, errors, non-2xx. */
export function runLoad({ port, path: p = '/', c, seconds }) {
  if (wrkBin === undefined) return runNodeLoad({ port, path: p, c, seconds });
  const cmd = pinned(LOAD_CORE, wrkBin, ['-t1', `-c${c}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '--timeout', '2s', `http://127.0.0.1:${port}${p}`]);
  return new Promise((resolve, reject) => {
    execFile(cmd.cmd, cmd.args, { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stdout}`));
      const num = (re) => {
        const m = re.exec(stdout);
        return m === null ? 0 : Number(m[1]);
      };
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      const lat = (q) => {
        const m = new RegExp(`^\\s+${q}%\\s+(\\S+)`, 'm').exec(stdout);
        return m === null ? NaN : toMs(m[1]);
      };
      resolve({
        requests: num(/(\d+) requests in/),
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        p50: lat(50),
        p99: lat(99),
        errors: sock === null ? { connect: 0, read: 0, write: 0, timeout: 0 } : { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] },
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
      });
    });
  });
}

async function runNodeLoad({ port, path: p, c, seconds }) {
  const child = forkLoad();
  const r = await new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.type === 'result') resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    child.send({ cmd: 'start', opts: { port, concurrency: c, durationMs: seconds * 1000, mix: 'get', path: p, postMin: 0, postMax: 0, verify: false, timeoutMs: 2000 } });
  });
  child.kill();
  return {
    requests: r.requests,
    rps: r.rps,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: { connect: 0, read: r.failures.error, write: 0, timeout: r.failures.timeout },
    non2xx: r.failures.status,
  };
}

/** The Node load generator as a forked child (IPC protocol in clients/http-load.js). */
export function forkLoad() {
  return fork(path.join(BENCH, 'clients/http-load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}
