#!/usr/bin/env node
/**
 * `npm run bench`: Baton against a direct upstream, nginx and HAProxy, in four scenarios
 * (throughput, swap under load, WebSockets, hold queue). Writes bench/results/latest.json and
 * prints markdown tables. `--quick` runs one short round of each (a smoke run, not a measure).
 *
 *   node bench/run.js [--quick] [--scenarios 1,2,3,4] [--rounds N] [--duration 5s]
 *                     [--configs direct,nginx,haproxy,baton-net,baton-node,baton-http-proxy-3,baton-undici,baton-nometrics]
 *                     [--out FILE]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH, ROOT } from './lib/baton.js';
import { cleanup, cores, LOAD_CORE, pinning, pinSelf, SUT_CORE } from './lib/procs.js';
import { loadGeneratorName } from './lib/loadgen.js';
import { judge, report } from './lib/report.js';
import { parseArgs } from './lib/util.js';
import { throughput } from './scenarios/throughput.js';
import { swapUnderLoad } from './scenarios/swap.js';
import { websockets } from './scenarios/websocket.js';
import { holdQueue } from './scenarios/hold.js';

const opts = parseArgs(process.argv.slice(2));
if (opts.help) {
  process.stdout.write((await readFile(new URL(import.meta.url), 'utf8')).split('\n').slice(2, 10).join('\n') + '\n');
  process.exit(0);
}
const quick = opts.quick;
const rounds = opts.rounds ?? (quick ? 1 : 3);
const seconds = (opts.duration ?? (quick ? 2000 : 5000)) / 1000;
const log = (line) => process.stderr.write(line + '\n');

// The forwarder Baton uses when none is named (what `baton start` runs).
const cliSource = await readFile(path.join(ROOT, 'dist/cli.js'), 'utf8');
const defaultForwarder = /BATON_FORWARDER \?\? '([\w-]+)'/.exec(cliSource)?.[1] ?? 'node';

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
    node: process.version,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores,
    pinning,
    sutCore: SUT_CORE,
    loadCore: LOAD_CORE,
    loadGenerator: loadGeneratorName(),
    defaultForwarder,
  },
};
log(`load generator: ${results.meta.loadGenerator}; pinning: ${pinning ? `SUT core ${SUT_CORE}, load core ${LOAD_CORE}` : 'off'}; default forwarder: ${defaultForwarder}`);

try {
  if (opts.scenarios.has(1)) {
    log('scenario 1: throughput and latency');
    results.throughput = await throughput({ rounds, seconds, warmupSeconds: quick ? 1 : 2, only: opts.configs, defaultForwarder, log });
  }
  if (opts.scenarios.has(2)) {
    log('scenario 2: swap under load');
    results.swap = await swapUnderLoad({ deploys: quick ? 5 : 100, steadyMs: quick ? 1500 : 4000, reloadGapMs: 200, forwarder: defaultForwarder, log });
  }
  if (opts.scenarios.has(3)) {
    log('scenario 3: websockets');
    results.websocket = await websockets({ rounds, seconds, sockets: 100, idleTarget: quick ? 1000 : 10_000, forwarder: defaultForwarder, log });
  }
  if (opts.scenarios.has(4)) {
    log('scenario 4: hold queue');
    results.hold = await holdQueue({ target: quick ? 1000 : 10_000, forwarder: defaultForwarder, log });
  }
} finally {
  cleanup();
}
results.targets = judge(results, defaultForwarder);
results.meta.wallSeconds = (Date.now() - started) / 1000;
const out = opts.out ?? path.join(BENCH, 'results/latest.json');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(results, null, 2) + '\n');
process.stdout.write(report(results) + '\n');
log(`\nwrote ${path.relative(process.cwd(), out)} (${results.meta.wallSeconds.toFixed(0)} s)`);
