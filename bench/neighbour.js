#!/usr/bin/env node
/**
 * What the proxy in front does to the app's CPU. One app process (the one Baton runs as its
 * service, bench/apps/upstream.cjs) and, in front of it, each pinned to core 0 beside it:
 *   baton       Baton itself
 *   nginx-fwd   nginx setting Baton's forwarded fields (lib/peers.js, `forwarded: true`)
 *   relay       the bare TCP relay (proxies/relay.mjs)
 *   relay-spin  the relay spinning per request (CPU only), tuned to cost what Baton costs
 *   relay-alloc the relay allocating short-lived objects per request (--garbage-bytes, ~Baton's
 *               6.7 KB by default) plus a spin, tuned to cost what Baton costs
 * Small keep-alive GETs at c=50 (wrk on core 1), the configurations alternated in an order
 * rotated every round and reversed every other round. Per window: the proxy's and the app's CPU
 * per request (user + kernel, /proc), req/s, the app's voluntary context switches per request;
 * then medians and ranges over rounds and, per configuration, the app's CPU as a ratio to the
 * plain relay's and to relay-spin's in the same round (medians of the per-round ratios).
 *
 *   node bench/neighbour.js [--rounds 6] [--seconds 3] [--json out.json]
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BENCH, startBaton } from './lib/baton.js';
import { hasWrk, loadGeneratorName, runLoad } from './lib/loadgen.js';
import { benchNode } from './lib/nodes.js';
import { startNginx } from './lib/peers.js';
import { cleanup, cpuSplitUs, freePort, groupCpuSplitUs, listeningPorts, pinning, pinSelf, spawnPinned, stopPid, SUT_CORE, voluntarySwitches, waitForPort } from './lib/procs.js';
import { fmtNum, median, sleep } from './lib/util.js';
import { UPSTREAM } from './scenarios/throughput/start.js';

const HELP = `node bench/neighbour.js [options]

  --rounds N            measured rounds (default 6)
  --seconds N           one window, whole seconds (default 3)
  --json FILE           write every window and the medians as JSON
  --garbage-bytes N     relay-alloc's short-lived heap per request (default 6700, ~Baton's)
  --spin-us N           relay-spin's spin per request (default: Baton's CPU minus the relay's,
                        measured after the warm-up)
  --alloc-spin-us N     relay-alloc's spin per request (default: Baton's CPU minus relay-alloc's
                        without a spin, measured after the warm-up)
  --semi-space MiB      run Baton with --max-semi-space-size=MiB (a smaller young generation)
  --node PATH           the Node for Baton, the app and the relays (default as bench/run.js)
`;

const C = 50;
const DEFAULT_GARBAGE_BYTES = 6700;

function parseArgs(argv) {
  const opts = { rounds: 6, seconds: 3, json: undefined, garbageBytes: DEFAULT_GARBAGE_BYTES, spinUs: undefined, allocSpinUs: undefined, semiSpace: undefined, node: undefined, help: false };
  const numbers = { '--rounds': ['rounds', 1], '--seconds': ['seconds', 1], '--garbage-bytes': ['garbageBytes', 0], '--spin-us': ['spinUs', 0], '--alloc-spin-us': ['allocSpinUs', 0], '--semi-space': ['semiSpace', 1] };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s);
    if (name === '--help' || name === '-h') {
      opts.help = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (!(name in numbers) && name !== '--json' && name !== '--node') throw new Error(`unknown option ${name} (see --help)`);
    if (value === undefined) throw new Error(`${name} needs a value`);
    if (name === '--json') opts.json = value;
    else if (name === '--node') opts.node = value;
    else {
      const [key, min] = numbers[name];
      const n = Number(value);
      if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected a whole number >= ${min}, got ${JSON.stringify(value)}`);
      opts[key] = n;
    }
  }
  return opts;
}

/** The relay in front of the app on `appPort`, with its busy-work knobs (proxies/relay.mjs). */
async function startRelay(node, appPort, { spinUs = 0, garbageBytes = 0 } = {}) {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), UPSTREAM_PORT: String(appPort), RELAY_SPIN_US: String(spinUs), RELAY_GARBAGE_BYTES: String(garbageBytes) };
  const child = spawnPinned(SUT_CORE, node.bin, [path.join(BENCH, 'proxies/relay.mjs')], { env });
  const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`relay exited with ${code}:\n${child.output()}`))));
  exited.catch(() => {}); // once started, an exit is stop()'s doing
  await Promise.race([waitForPort(port), exited]);
  return { port, pids: () => [child.pid], stop: () => stopPid(child.pid) };
}

/** The app Baton runs (its one child) and the port it listens on, once both are there. */
async function appOf(baton, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [pid] = baton.apps();
    const [port] = pid === undefined ? [] : listeningPorts(pid);
    if (port !== undefined) return { pid, port };
    if (Date.now() > deadline) throw new Error(`Baton's app: no child listening on 127.0.0.1 after ${timeoutMs} ms (children: ${baton.apps().join(', ') || 'none'})`);
    await sleep(50);
  }
}

/** One window of load on `target`: its CPU and the app's over the same seconds. */
async function measure(target, app, seconds) {
  const proxy0 = groupCpuSplitUs(target.pids());
  const app0 = cpuSplitUs(app.pid);
  const vcs0 = voluntarySwitches(app.pid);
  const t0 = process.hrtime.bigint();
  const res = await runLoad({ port: target.port, c: C, seconds });
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const proxy1 = groupCpuSplitUs(target.pids());
  const app1 = cpuSplitUs(app.pid);
  const vcs1 = voluntarySwitches(app.pid);
  const n = Math.max(1, res.requests);
  const proxyUs = (proxy1.user + proxy1.sys - proxy0.user - proxy0.sys) / n;
  const appUser = (app1.user - app0.user) / n;
  const appSys = (app1.sys - app0.sys) / n;
  return {
    id: target.id,
    requests: res.requests,
    rps: res.rps,
    errors: res.errors,
    non2xx: res.non2xx,
    proxyUsPerReq: proxyUs,
    appUsPerReq: appUser + appSys,
    appUserUsPerReq: appUser,
    appSysUsPerReq: appSys,
    appVcsPerReq: (vcs1 - vcs0) / n,
    busy: ((proxyUs + appUser + appSys) * n) / wallUs,
  };
}

function range(xs) {
  const v = xs.filter(Number.isFinite);
  return { median: median(v), min: v.length === 0 ? NaN : Math.min(...v), max: v.length === 0 ? NaN : Math.max(...v) };
}

const fmtRange = (r, digits) => `${fmtNum(r.median, digits)} (${fmtNum(r.min, digits)}-${fmtNum(r.max, digits)})`;

function table(rows) {
  const lines = [
    '| configuration | proxy µs/req | app µs/req | app × relay (same round) | app × relay-spin (same round) | app vol. switches/req | req/s |',
    '| --- | --: | --: | --: | --: | --: | --: |',
  ];
  for (const r of rows) lines.push(`| ${r.id} | ${fmtRange(r.proxyUsPerReq, 1)} | ${fmtRange(r.appUsPerReq, 1)} | ${fmtRange(r.appVsRelay, 2)} | ${fmtRange(r.appVsRelaySpin, 2)} | ${fmtRange(r.appVcsPerReq, 3)} | ${fmtRange(r.rps, 0)} |`);
  return lines.join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!hasWrk) throw new Error('wrk is not installed: this bench needs it (the Node load generator saturates first)');
  const node = benchNode(opts.node);
  const log = (line) => process.stderr.write(line + '\n');
  pinSelf();
  const stops = [];
  try {
    const nodeArgs = opts.semiSpace === undefined ? [] : [`--max-semi-space-size=${opts.semiSpace}`];
    const baton = await startBaton({ node: node.bin, nodeArgs, command: [node.bin, UPSTREAM] });
    stops.push(() => baton.stop());
    const app = await appOf(baton);
    log(`Baton ${baton.pid} on :${baton.port}${nodeArgs.length > 0 ? ` (${nodeArgs.join(' ')})` : ''}, its app ${app.pid} on :${app.port}; Node ${node.version}`);

    const targets = [{ id: 'baton', port: baton.port, pids: () => [baton.pid] }];
    const skipped = [];
    const nginx = await startNginx({ UPSTREAM_PORT: app.port, WS_UPSTREAM_PORT: await freePort() }, { forwarded: true });
    if (nginx === undefined) {
      skipped.push({ id: 'nginx-fwd', why: 'nginx is not installed' });
      log('nginx-fwd: skipped (nginx is not installed)');
    } else {
      stops.push(() => nginx.stop());
      targets.push({ id: 'nginx-fwd', port: nginx.port, pids: nginx.pids });
    }
    const relay = await startRelay(node, app.port);
    stops.push(() => relay.stop());
    targets.push({ id: 'relay', ...relay });

    // Warm-up (V8's JIT in Baton and the relay, nginx's upstream keep-alive), then three
    // alternated windows each of Baton, the relay and the relay with the garbage but no spin,
    // to tune the busy relays to Baton's CPU per request (medians: one window is too noisy).
    for (const t of targets) await runLoad({ port: t.port, c: C, seconds: t.id === 'baton' ? 3 : 1 });
    const allocProbe = await startRelay(node, app.port, { garbageBytes: opts.garbageBytes });
    await runLoad({ port: allocProbe.port, c: C, seconds: 1 });
    const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
    const probes = [byId.baton, byId.relay, { id: 'relay-alloc, no spin', ...allocProbe }];
    const calibration = [];
    for (let i = 0; i < 3; i++) for (const t of probes) calibration.push(await measure(t, app, opts.seconds));
    await allocProbe.stop();
    const [batonCal, relayCal, allocCal] = probes.map((t) => median(calibration.filter((w) => w.id === t.id).map((w) => w.proxyUsPerReq)));
    const spinUs = opts.spinUs ?? Math.max(0, Math.round(batonCal - relayCal));
    const allocSpinUs = opts.allocSpinUs ?? Math.max(0, Math.round(batonCal - allocCal));
    log(`calibration (medians of 3): Baton ${batonCal.toFixed(1)} µs/req, relay ${relayCal.toFixed(1)}, relay with ${opts.garbageBytes} B of garbage ${allocCal.toFixed(1)}: relay-spin spins ${spinUs} µs, relay-alloc ${allocSpinUs} µs`);

    const spin = await startRelay(node, app.port, { spinUs });
    stops.push(() => spin.stop());
    targets.push({ id: 'relay-spin', ...spin });
    const alloc = await startRelay(node, app.port, { spinUs: allocSpinUs, garbageBytes: opts.garbageBytes });
    stops.push(() => alloc.stop());
    targets.push({ id: 'relay-alloc', ...alloc });
    for (const t of [spin, alloc]) await runLoad({ port: t.port, c: C, seconds: 1 });

    const windows = [];
    for (let r = 0; r < opts.rounds; r++) {
      // Rotated every round and reversed every other one, so no configuration always follows
      // the same one (and whatever it leaves in the caches or the scheduler).
      const k = r % targets.length;
      let order = [...targets.slice(k), ...targets.slice(0, k)];
      if (r % 2 === 1) order = order.reverse();
      for (const t of order) {
        const w = { round: r, ...(await measure(t, app, opts.seconds)) };
        windows.push(w);
        log(`  round ${r + 1}/${opts.rounds} ${t.id.padEnd(11)} ${fmtNum(w.rps).padStart(7)} req/s  proxy ${w.proxyUsPerReq.toFixed(1)} µs/req  app ${w.appUsPerReq.toFixed(1)} µs/req  app vcs ${w.appVcsPerReq.toFixed(3)}/req  core ${(100 * w.busy).toFixed(0)}%`);
      }
    }

    // The app's CPU as a ratio to what it was behind another configuration in the same round:
    // the plain relay (the floor), and relay-spin (a proxy as costly as Baton, CPU only).
    const appIn = (r, id) => windows.find((w) => w.round === r && w.id === id)?.appUsPerReq;
    const rows = targets.map((t) => {
      const ws = windows.filter((w) => w.id === t.id);
      return {
        id: t.id,
        rounds: ws.length,
        requests: ws.reduce((a, w) => a + w.requests, 0),
        errors: ws.reduce((a, w) => a + w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout, 0),
        non2xx: ws.reduce((a, w) => a + w.non2xx, 0),
        rps: range(ws.map((w) => w.rps)),
        proxyUsPerReq: range(ws.map((w) => w.proxyUsPerReq)),
        appUsPerReq: range(ws.map((w) => w.appUsPerReq)),
        appVsRelay: range(ws.map((w) => w.appUsPerReq / appIn(w.round, 'relay'))),
        appVsRelaySpin: range(ws.map((w) => w.appUsPerReq / appIn(w.round, 'relay-spin'))),
        appVcsPerReq: range(ws.map((w) => w.appVcsPerReq)),
        busy: range(ws.map((w) => w.busy)),
      };
    });

    process.stdout.write(`#### The app behind each proxy (small GET, c=${C}, ${opts.rounds} rounds of ${opts.seconds} s; medians, range over rounds)\n\n${table(rows)}\n\n`);
    process.stdout.write(`relay-spin spins ${spinUs} µs a request; relay-alloc makes ${opts.garbageBytes} bytes of short-lived objects and spins ${allocSpinUs} µs. Load generator: ${loadGeneratorName()}${pinning ? '' : '; NOT pinned (taskset missing or one core)'}.\n`);
    if (opts.json !== undefined) {
      const meta = { date: new Date().toISOString(), node: node.version, loadGenerator: loadGeneratorName(), pinned: pinning, c: C, rounds: opts.rounds, seconds: opts.seconds, garbageBytes: opts.garbageBytes, spinUs, allocSpinUs, batonNodeArgs: nodeArgs };
      await writeFile(opts.json, JSON.stringify({ meta, skipped, calibration, windows, rows }, null, 2) + '\n');
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => process.stderr.write(`cleanup: ${err.message}\n`));
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}
process.on('exit', cleanup);

main().catch((err) => {
  process.stderr.write(`neighbour: ${err.message}\n`);
  process.exitCode = 1;
});
