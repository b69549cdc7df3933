/**
 * A Node HTTP/1.1 keep-alive load generator, run as a forked child (on the load core) and
 * driven over IPC. Used for the swap scenario (GETs and POSTs with bodies, every answer checked,
 * every request timed so the ones overlapping a swap can be told apart) and as the fallback
 * load generator of the throughput scenario when wrk is not installed.
 *
 *   parent -> {cmd: 'start', opts}     opts: {port, concurrency, durationMs, mix: 'get'|'post'|'mixed',
 *                                             path, postPath ('/echo'), postMin, postMax, verify,
 *                                             keepAlive (true; false: Connection: close)}
 *   parent -> {cmd: 'stop', windows}   windows: {name: [[from, to], ...]} (absolute ms)
 *   child  -> {type: 'started'} ... {type: 'result', ...}
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const now = () => performance.timeOrigin + performance.now();

class Records {
  constructor() {
    this.n = 0;
    this.start = new Float64Array(1 << 16);
    this.ms = new Float64Array(1 << 16);
    this.ok = new Uint8Array(1 << 16);
  }
  push(start, ms, ok) {
    if (this.n === this.start.length) {
      const grow = (a, T) => {
        const b = new T(a.length * 2);
        b.set(a);
        return b;
      };
      this.start = grow(this.start, Float64Array);
      this.ms = grow(this.ms, Float64Array);
      this.ok = grow(this.ok, Uint8Array);
    }
    this.start[this.n] = start;
    this.ms[this.n] = ms;
    this.ok[this.n] = ok ? 1 : 0;
    this.n++;
  }
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summary(values) {
  const s = Float64Array.from(values).sort();
  return { n: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s.length === 0 ? null : s[s.length - 1] };
}

let running = false;
let stopAt = Infinity;
const rec = new Records();
const failures = { status: 0, error: 0, mismatch: 0, timeout: 0 };
const errorCodes = {};
const samples = [];
let startedAt = 0;
let endedAt = 0;

function fail(kind, detail) {
  failures[kind]++;
  if (kind === 'error') errorCodes[detail] = (errorCodes[detail] ?? 0) + 1;
  if (samples.length < 5) samples.push(`${kind}: ${detail}`);
}

// Pre-made bodies: the generator's own CPU goes to requests, not to randomness.
const bodies = [];

function once(agent, opts, post) {
  const body = post ? bodies[(Math.random() * bodies.length) | 0] : undefined;
  const start = now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      rec.push(start, now() - start, ok);
      resolve();
    };
    const req = http.request(
      {
        host: '127.0.0.1',
        port: opts.port,
        agent,
        method: post ? 'POST' : 'GET',
        path: post ? (opts.postPath ?? '/echo') : opts.path,
        headers: post ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : undefined,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode < 200 || res.statusCode > 299) {
            fail('status', String(res.statusCode));
            return finish(false);
          }
          if (post && opts.verify && Buffer.compare(Buffer.concat(chunks), body) !== 0) {
            fail('mismatch', `echo of ${body.length} bytes differs`);
            return finish(false);
          }
          finish(true);
        });
        res.on('error', (err) => {
          fail('error', err.code ?? err.message);
          finish(false);
        });
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => {
      fail('timeout', `no answer within ${opts.timeoutMs ?? 10_000} ms`);
      req.destroy();
      finish(false);
    });
    req.on('error', (err) => {
      fail('error', err.code ?? err.message);
      finish(false);
    });
    req.end(body);
  });
}

async function run(opts) {
  for (let i = 0; i < 64; i++) bodies.push(randomBytes(opts.postMin + Math.floor(Math.random() * (opts.postMax - opts.postMin + 1))));
  const agent = new http.Agent({ keepAlive: opts.keepAlive ?? true, maxSockets: opts.concurrency, keepAliveMsecs: 1000 });
  running = true;
  startedAt = now();
  stopAt = opts.durationMs === undefined ? Infinity : startedAt + opts.durationMs;
  process.send?.({ type: 'started', at: startedAt });
  const loops = Array.from({ length: opts.concurrency }, async (_, i) => {
    let k = i;
    while (running && now() < stopAt) await once(agent, opts, opts.mix === 'post' || (opts.mix === 'mixed' && k++ % 2 === 1));
  });
  await Promise.all(loops);
  endedAt = now();
  agent.destroy();
}

function result(windows = {}) {
  const n = rec.n;
  const all = [];
  let okCount = 0;
  for (let i = 0; i < n; i++) {
    all.push(rec.ms[i]);
    okCount += rec.ok[i];
  }
  const out = {
    type: 'result',
    requests: n,
    ok: okCount,
    failed: n - okCount,
    failures,
    errorCodes,
    samples,
    seconds: (endedAt - startedAt) / 1000,
    rps: n / ((endedAt - startedAt) / 1000),
    latency: summary(all),
    windows: {},
  };
  // For each named set of windows: the requests that overlapped any of them.
  for (const [name, list] of Object.entries(windows)) {
    const sorted = [...list].sort((a, b) => a[0] - b[0]);
    const picked = [];
    let failed = 0;
    for (let i = 0; i < n; i++) {
      const s = rec.start[i];
      const e = s + rec.ms[i];
      // Binary search the last window starting before e.
      let lo = 0;
      let hi = sorted.length - 1;
      let hit = false;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid][0] <= e) lo = mid + 1;
        else hi = mid - 1;
      }
      for (let j = hi; j >= 0 && j >= hi - 2; j--) if (sorted[j][1] >= s) hit = true;
      if (hit) {
        picked.push(rec.ms[i]);
        if (!rec.ok[i]) failed++;
      }
    }
    out.windows[name] = { ...summary(picked), failed };
  }
  return out;
}

process.on('message', async (msg) => {
  if (msg.cmd === 'start') {
    await run(msg.opts);
    if (msg.opts.durationMs !== undefined) process.send({ ...result(), type: 'result' });
    else process.send({ type: 'ended' });
  } else if (msg.cmd === 'stop') {
    running = false;
  } else if (msg.cmd === 'result') {
    process.send(result(msg.windows));
  }
});
