/**
 * Scenario 1: throughput and latency. Each workload (throughput/workloads.js) against each
 * configuration (throughput/configs.js): the upstream direct, nginx, HAProxy, Baton (through
 * its CLI, on the bench Node; optionally on a second Node too), the comparison proxies and the
 * bare Node relay, all pinned to one core beside one shared upstream. Configurations are
 * interleaved within each workload, rotated every round and reversed every other one; medians
 * and spreads over rounds, ratios against nginx and HAProxy of the same run. CPU (user and
 * kernel) and RSS of the proxy process(es) from /proc; then "where the time goes": syscalls per
 * request of Baton, the relay and nginx, counted in a separate short pass.
 */
import { runLoad } from '../lib/loadgen.js';
import { groupCpuSplitUs, groupRssKb } from '../lib/procs.js';
import { median, sleep, spread } from '../lib/util.js';
import { CONFIGS, PROFILED } from './throughput/configs.js';
import { startConfig, startUpstream } from './throughput/start.js';

const portOf = (t, w) => t.ports[w.port ?? 'http'];
const applies = (t, w) => (w.configs === undefined || w.configs.includes(t.id)) && (t.config.workloads === undefined || t.config.workloads.includes(w.id)) && portOf(t, w) !== undefined;

function load(t, w, seconds) {
  return runLoad({ port: portOf(t, w), request: w.request, c: w.c, seconds, tool: w.tool, scheme: w.scheme, h2loadArgs: w.h2loadArgs });
}

/**
 * One measured load: the load generator's figures plus the proxy's CPU, RSS and disk spills, and
 * the upstream's CPU over the same seconds (`appUsPerReq`: the shared upstream, or for Baton the
 * same app run by Baton; for "direct" the upstream is the target). `busy`: the share of the
 * system-under-test core the two took.
 */
async function measure(t, w, seconds, upstream) {
  const pids = t.pids();
  const direct = t.id === 'direct';
  const app = direct ? [] : (t.appPids?.() ?? [upstream.pid]);
  const disk0 = t.bufferedToDisk?.() ?? 0;
  const cpu0 = groupCpuSplitUs(pids);
  const app0 = groupCpuSplitUs(app);
  const t0 = process.hrtime.bigint();
  const res = await load(t, w, seconds);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu1 = groupCpuSplitUs(pids);
  const app1 = groupCpuSplitUs(app);
  const n = Math.max(1, res.requests);
  const user = (cpu1.user - cpu0.user) / n;
  const sys = (cpu1.sys - cpu0.sys) / n;
  const appUs = direct ? user + sys : (app1.user + app1.sys - app0.user - app0.sys) / n;
  const busy = ((direct ? 0 : user + sys) + appUs) * n / wallUs;
  return { ...res, userUsPerReq: user, sysUsPerReq: sys, cpuUsPerReq: user + sys, appUsPerReq: appUs, busy, rssMb: groupRssKb(pids) / 1024, bufferedToDisk: (t.bufferedToDisk?.() ?? 0) - disk0 };
}

/**
 * `configs`, `workloads`: the selected table entries. `nodes`: { bench, batonNode }.
 * `syscalls`: a counter from lib/syscalls.js, or undefined to skip that pass. `pairs`: how many
 * back-to-back pairs of Baton and each goal's peer follow the rounds (pairedRatios).
 */
export async function throughput({ rounds, pairs = 0, seconds, warmupSeconds, profileSeconds, profileWorkloads = Infinity, configs, workloads, nodes, syscalls, log }) {
  const upstream = await startUpstream(nodes.bench);
  const targets = [];
  const skipped = [];
  const stops = [() => upstream.stop()];
  try {
    for (const config of configs) {
      const t = await startConfig(config, { upstream, nodes }).catch((err) => ({ why: err.message.replace(/\s+/g, ' ').trim().slice(0, 240) }));
      if (t.why !== undefined) {
        skipped.push({ id: config.id, why: t.why });
        log(`  ${config.id}: skipped (${t.why})`);
        continue;
      }
      stops.push(() => t.stop());
      targets.push({ ...t, config });
    }
    const cells = workloads.map((w) => ({ w, targets: targets.filter((t) => applies(t, w)) }));

    // Warm-up, not recorded: pools for every configuration, and V8's JIT for the Node ones,
    // which takes longer to settle (with too short a warm-up Baton's first round is its worst).
    if (warmupSeconds > 0) for (const { w, targets: ts } of cells) for (const t of ts) await load(t, w, t.config.jit === false ? warmupSeconds : 2 * warmupSeconds);

    const runs = [];
    for (let r = 0; r < rounds; r++) {
      for (const { w, targets: ts } of cells) {
        // Rotate the order each round, and reverse it every other round: a plain rotation keeps
        // each configuration behind the same one (and whatever that one leaves behind on the
        // shared core, such as a pool of idle upstream connections being closed).
        const rotated = ts.map((_, i) => ts[(i + r) % ts.length]);
        const order = r % 2 === 1 ? rotated.reverse() : rotated;
        for (const t of order) {
          await sleep(200);
          const run = { workload: w.id, id: t.id, c: w.c, round: r + 1, ...(await measure(t, w, seconds, upstream)) };
          runs.push(run);
          log(
            `  round ${r + 1} ${w.id.padEnd(9)} ${t.id.padEnd(16)} ${Math.round(run.rps).toString().padStart(6)} req/s  p99 ${run.p99.toFixed(1)} ms  ` +
              `cpu ${run.cpuUsPerReq.toFixed(0)} µs/req (${run.userUsPerReq.toFixed(0)} user + ${run.sysUsPerReq.toFixed(0)} kernel)  app ${run.appUsPerReq.toFixed(0)} µs  core ${(100 * run.busy).toFixed(0)}%` +
              `${run.errors.timeout ? `  timeouts ${run.errors.timeout}` : ''}${run.non2xx ? `  non-2xx ${run.non2xx}` : ''}${run.bufferedToDisk ? `  buffered to disk ${run.bufferedToDisk}x` : ''}`,
          );
        }
      }
    }

    const paired = await pairedRatios(cells, pairs, (t, w) => measure(t, w, seconds, upstream), log);

    const profile = syscalls === undefined ? { tool: null, rows: [] } : { tool: syscalls.name, seconds: profileSeconds, rows: [] };
    if (syscalls !== undefined) {
      for (const { w, targets: ts } of cells.filter((x) => x.w.profile !== false).slice(0, profileWorkloads)) {
        for (const t of ts.filter((x) => PROFILED.includes(x.id))) {
          await sleep(200);
          const { result, counts } = await syscalls.count(t.pids(), () => load(t, w, profileSeconds));
          const n = Math.max(1, result.requests);
          const total = Object.values(counts).reduce((a, b) => a + b, 0);
          const top = Object.entries(counts)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([name, k]) => ({ name, perReq: k / n }));
          profile.rows.push({ workload: w.id, id: t.id, requests: result.requests, rps: result.rps, syscallsPerReq: total / n, top });
          log(`  syscalls ${w.id.padEnd(9)} ${t.id.padEnd(8)} ${(total / n).toFixed(2)}/req  (${top.map((x) => `${x.name} ${x.perReq.toFixed(2)}`).join(', ')})`);
        }
      }
    }
    return {
      rounds,
      seconds,
      workloads,
      targets: targets.map(({ id, label, node }) => ({ id, label, node })),
      skipped,
      runs,
      rows: aggregate(cells, runs),
      paired,
      profile,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

/**
 * Baton against the peer of each workload's goal in `count` pairs of cells back to back, the
 * order swapped every pair (ABBA): the ratio of each pair, and their median. Within a round the
 * two cells of a goal can be half a minute apart, and this machine's speed moves by half within
 * minutes for every process on the core; a pair's two cells are 2 s apart. Reported beside the
 * goals, which are judged on the rounds as before.
 */
async function pairedRatios(cells, count, measureOne, log) {
  const paired = [];
  if (count <= 0) return paired;
  for (const { w, targets: ts } of cells) {
    const baton = ts.find((t) => t.id === 'baton');
    const peer = w.goal === undefined ? undefined : ts.find((t) => t.id === w.goal.vs);
    if (baton === undefined || peer === undefined) continue;
    const ratios = [];
    for (let i = 0; i < count; i++) {
      const rps = new Map();
      for (const t of i % 2 === 0 ? [baton, peer] : [peer, baton]) {
        await sleep(200);
        rps.set(t.id, (await measureOne(t, w)).rps);
      }
      ratios.push(rps.get(baton.id) / rps.get(peer.id));
    }
    const x = median(ratios);
    paired.push({ workload: w.id, vs: peer.id, x, ratios });
    log(`  pairs  ${w.id.padEnd(9)} baton/${peer.id} ${x.toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')})`);
  }
  return paired;
}

/** Rows by workload and configuration: medians over rounds, spreads, ratios to the peers. */
function aggregate(cells, runs) {
  const rows = [];
  const peers = CONFIGS.filter((c) => c.peer).map((c) => c.id);
  for (const { w, targets } of cells) {
    const of = (id) => runs.filter((r) => r.workload === w.id && r.id === id);
    const rpsOf = (id) => median(of(id).map((r) => r.rps));
    const inRound = (id, round) => of(id).find((r) => r.round === round)?.rps;
    for (const t of targets) {
      const rs = of(t.id);
      const errs = (k) => rs.reduce((a, r) => a + r.errors[k], 0);
      const rps = rpsOf(t.id);
      const vs = {};
      for (const p of peers) {
        if (!targets.some((x) => x.id === p)) continue;
        // The ratio of the medians, and the ratio within each round (same few seconds).
        vs[p] = { x: rps / rpsOf(p), rounds: rs.map((r) => r.rps / inRound(p, r.round)).filter(Number.isFinite) };
      }
      rows.push({
        workload: w.id,
        id: t.id,
        label: t.label,
        c: w.c,
        rounds: rs.length,
        rps,
        rpsSpread: spread(rs.map((r) => r.rps)),
        xDirect: rps / rpsOf('direct'),
        vs,
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        p99Spread: spread(rs.map((r) => r.p99)),
        socketErrors: { connect: errs('connect'), read: errs('read'), write: errs('write'), timeout: errs('timeout') },
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
        userUsPerReq: median(rs.map((r) => r.userUsPerReq)),
        sysUsPerReq: median(rs.map((r) => r.sysUsPerReq)),
        appUsPerReq: median(rs.map((r) => r.appUsPerReq)),
        busy: median(rs.map((r) => r.busy)),
        rssMb: median(rs.map((r) => r.rssMb)),
        bufferedToDisk: rs.reduce((a, r) => a + r.bufferedToDisk, 0),
      });
    }
  }
  return rows;
}
