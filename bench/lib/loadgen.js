/**
 * Load generators. HTTP/1.1 workloads: wrk (pinned to the load core) when installed, else the
 * Node one in clients/http-load.js (forked; it inherits the orchestrator's pinning to the load
 * core). `tool: 'h2load'` workloads (HTTP/2, TLS handshakes) run h2load pinned the same way.
 *
 * A workload's request: `{ method, path, bodyBytes, close }` (close: `Connection: close`, a new
 * connection per request).
 */
import { execFile, fork } from 'node:child_process';
import path from 'node:path';
import { BENCH } from './baton.js';
import { pinned, LOAD_CORE, which } from './procs.js';

// BENCH_LOADGEN=node forces the Node generator (to check the fallback where wrk is installed).
const wrkBin = process.env.BENCH_LOADGEN === 'node' ? undefined : which('wrk');
const h2loadBin = which('h2load');
const WRK_SCRIPT = path.join(BENCH, 'lib/wrk/request.lua');

export function loadGeneratorName() {
  return wrkBin !== undefined
    ? 'wrk (Debian), -t1, 2 s timeout'
    : 'node (bench/clients/http-load.js; wrk not found): it saturates before a direct Node upstream does, so "× direct" overstates every proxy';
}

export const hasWrk = wrkBin !== undefined;
export const hasH2load = h2loadBin !== undefined;

const NO_ERRORS = { connect: 0, read: 0, write: 0, timeout: 0 };

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/**
 * Run one load: `request` (see above) to 127.0.0.1:`port` at `c` connections for `seconds`;
 * `{ requests, rps, p50, p99, errors: {connect, read, write, timeout}, non2xx }`.
 * `tool` picks the generator ('wrk', the default, falls back to Node; 'h2load').
 */
export function runLoad({ port, request = {}, c, seconds, tool = 'wrk', scheme = 'http', h2loadArgs = [] }) {
  const req = { method: 'GET', path: '/', bodyBytes: 0, close: false, ...request };
  if (tool === 'h2load') return runH2load({ port, req, c, seconds, scheme, extra: h2loadArgs });
  if (wrkBin === undefined) return runNodeLoad({ port, req, c, seconds });
  const args = ['-t1', `-c${c}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '--timeout', '2s'];
  const plain = req.method === 'GET' && req.bodyBytes === 0 && !req.close;
  if (!plain) args.push('-s', WRK_SCRIPT);
  args.push(`${scheme}://127.0.0.1:${port}${req.path}`);
  const cmd = pinned(LOAD_CORE, wrkBin, args);
  const env = { ...process.env, BENCH_METHOD: req.method, BENCH_BODY_BYTES: String(req.bodyBytes), BENCH_CONNECTION_CLOSE: req.close ? '1' : '0' };
  return new Promise((resolve, reject) => {
    execFile(cmd.cmd, cmd.args, { env, timeout: (seconds + 30) * 1000 }, (err, stdout) => {
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
        errors: sock === null ? { ...NO_ERRORS } : { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] },
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
      });
    });
  });
}

/**
 * h2load (nghttp2): HTTP/2 by default, `--h1` in `extra` for HTTP/1.1. It reports no
 * percentiles: p50 is its mean request time, p99 NaN.
 */
function runH2load({ port, req, c, seconds, scheme, extra }) {
  if (h2loadBin === undefined) return Promise.reject(new Error('h2load is not installed'));
  if (req.method !== 'GET' || req.bodyBytes > 0) return Promise.reject(new Error('h2load workloads: GET only for now (h2load -d FILE would post a body)'));
  // h2load fails when the server closes after an answer: wrk over https does new handshakes.
  if (req.close) return Promise.reject(new Error('h2load workloads: no Connection: close (use wrk, which reconnects, for a new connection or TLS handshake per request)'));
  const args = ['-c', String(c), '-D', String(Math.max(1, Math.round(seconds))), '-m', '1', ...extra];
  args.push(`${scheme}://127.0.0.1:${port}${req.path}`);
  const cmd = pinned(LOAD_CORE, h2loadBin, args);
  return new Promise((resolve, reject) => {
    execFile(cmd.cmd, cmd.args, { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(new Error(`h2load failed: ${err.message}\n${stdout}`));
      const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
      const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
      const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout);
      const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(stdout);
      const done = m === null ? 0 : Number(m[3]);
      resolve({
        requests: done,
        rps: rps === null ? 0 : Number(rps[1]),
        p50: mean === null ? NaN : toMs(mean[1]),
        p99: NaN,
        errors: { connect: 0, read: m === null ? 0 : Number(m[6]), write: 0, timeout: m === null ? 0 : Number(m[7]) },
        non2xx: codes === null ? 0 : Number(codes[2]) + Number(codes[3]) + Number(codes[4]),
      });
    });
  });
}

async function runNodeLoad({ port, req, c, seconds }) {
  const child = forkLoad();
  const post = req.bodyBytes > 0;
  const r = await new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.type === 'result') resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    child.send({
      cmd: 'start',
      opts: { port, concurrency: c, durationMs: seconds * 1000, mix: post ? 'post' : 'get', path: req.path, postPath: req.path, postMin: req.bodyBytes, postMax: req.bodyBytes, keepAlive: !req.close, verify: false, timeoutMs: 2000 },
    });
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
