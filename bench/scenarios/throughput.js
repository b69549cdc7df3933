/**
 * Scenario 1: the same ~100-byte upstream served direct, through Baton (each forwarder, and the
 * default one with metrics off), nginx and HAProxy; c=50 and c=200, keep-alive; configurations
 * interleaved round by round. CPU per request and RSS of the proxy process(es) from /proc.
 */
import path from 'node:path';
import { BENCH, startBaton } from '../lib/baton.js';
import { startNginx, startHaproxy } from '../lib/peers.js';
import { runLoad } from '../lib/loadgen.js';
import { freePort, groupCpuUs, groupRssKb, spawnPinned, stopPid, SUT_CORE, waitForPort } from '../lib/procs.js';
import { median, sleep, spread } from '../lib/util.js';

const UPSTREAM = path.join(BENCH, 'apps/upstream.cjs');
export const CONCURRENCY = [50, 200];

export async function throughput({ rounds, seconds, warmupSeconds, only, defaultForwarder, log }) {
  const want = (id) => only === undefined || only.includes(id);
  const upPort = await freePort();
  const upstream = spawnPinned(SUT_CORE, process.execPath, [UPSTREAM], { env: { ...process.env, PORT: String(upPort) } });
  await waitForPort(upPort);
  const targets = [];
  const stops = [() => stopPid(upstream.pid)];
  try {
    if (want('direct')) targets.push({ id: 'direct', label: 'direct (upstream alone)', port: upPort, pids: () => [upstream.pid] });
    const peerPorts = { UPSTREAM_PORT: upPort, WS_UPSTREAM_PORT: await freePort() };
    if (want('nginx')) {
      const n = await startNginx(peerPorts);
      if (n !== undefined) {
        stops.push(() => n.stop());
        targets.push({ id: 'nginx', label: 'nginx 1 worker', port: n.port, pids: n.pids });
      } else log('nginx not installed: skipped');
    }
    if (want('haproxy')) {
      const h = await startHaproxy(peerPorts);
      if (h !== undefined) {
        stops.push(() => h.stop());
        targets.push({ id: 'haproxy', label: 'HAProxy 1 thread', port: h.port, pids: h.pids });
      } else log('haproxy not installed: skipped');
    }
    for (const fwd of ['net', 'node', 'http-proxy-3', 'undici']) {
      if (!want(`baton-${fwd}`)) continue;
      const b = await startBaton({ forwarder: fwd, command: [process.execPath, UPSTREAM] });
      stops.push(() => b.stop());
      targets.push({ id: `baton-${fwd}`, label: `Baton, ${fwd} forwarder${fwd === defaultForwarder ? ' (default)' : ''}`, port: b.port, pids: () => [b.pid], baton: true });
    }
    if (want('baton-nometrics')) {
      const b = await startBaton({ forwarder: defaultForwarder, metrics: false, command: [process.execPath, UPSTREAM] });
      stops.push(() => b.stop());
      targets.push({ id: 'baton-nometrics', label: `Baton, ${defaultForwarder}, metrics off`, port: b.port, pids: () => [b.pid], baton: true });
    }

    // Warm-up (JIT, pools), not recorded.
    for (const t of targets) for (const c of CONCURRENCY) await runLoad({ port: t.port, c, seconds: warmupSeconds });

    const runs = [];
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round, and reverse it every other round: a plain rotation keeps
      // each configuration behind the same one (and whatever that one leaves behind on the
      // shared core, such as a pool of idle upstream connections being closed).
      const rotated = targets.map((_, i) => targets[(i + r) % targets.length]);
      const order = r % 2 === 1 ? rotated.reverse() : rotated;
      for (const t of order) {
        for (const c of CONCURRENCY) {
          await sleep(300);
          const pids = t.pids();
          const cpu0 = groupCpuUs(pids);
          const res = await runLoad({ port: t.port, c, seconds });
          const cpu1 = groupCpuUs(pids);
          const run = { id: t.id, c, round: r + 1, ...res, cpuUsPerReq: (cpu1 - cpu0) / Math.max(1, res.requests), rssMb: groupRssKb(pids) / 1024 };
          runs.push(run);
          log(`  round ${r + 1} ${t.id.padEnd(16)} c=${String(c).padEnd(3)} ${Math.round(res.rps).toString().padStart(6)} req/s  p99 ${res.p99.toFixed(1)} ms  cpu ${run.cpuUsPerReq.toFixed(0)} µs/req  timeouts ${res.errors.timeout}`);
        }
      }
    }
    return { targets: targets.map(({ id, label }) => ({ id, label })), runs, rows: aggregate(targets, runs) };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

function aggregate(targets, runs) {
  const rows = [];
  const direct = (c) => median(runs.filter((r) => r.id === 'direct' && r.c === c).map((r) => r.rps));
  for (const t of targets) {
    for (const c of CONCURRENCY) {
      const rs = runs.filter((r) => r.id === t.id && r.c === c);
      const errs = (k) => rs.reduce((a, r) => a + r.errors[k], 0);
      const rps = median(rs.map((r) => r.rps));
      rows.push({
        id: t.id,
        label: t.label,
        c,
        rounds: rs.length,
        rps,
        rpsSpread: spread(rs.map((r) => r.rps)),
        xDirect: rps / direct(c),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        p99Spread: spread(rs.map((r) => r.p99)),
        socketErrors: { connect: errs('connect'), read: errs('read'), write: errs('write'), timeout: errs('timeout') },
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
        rssMb: median(rs.map((r) => r.rssMb)),
      });
    }
  }
  return rows;
}
