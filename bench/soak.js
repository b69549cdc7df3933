#!/usr/bin/env node
// Soak: c keep-alive clients (GETs and POSTs echoed byte for byte) against Baton on the demo
// app, a deploy every `--swap-every`, for `--duration`. Bounded in time and count; loopback only.
// Reports requests, swaps, failures, Baton's open file descriptors and RSS at the start (before
// load) and the end (after load, once idle pooled sockets have timed out), and its live heap
// once warm and as the load ends: a full collection forced through the inspector (bound to
// 127.0.0.1), then `heapUsed`. RSS is the footprint, not the leak signal: V8 sizes its heap to
// the allocation rate and keeps it (Node 24's young generation alone grows past 100 MB under
// this load with 20 MB live).
//
//   node bench/soak.js [--duration 5m] [--clients 200] [--swap-every 10s] [--json]
// Exit 0 when there was no failure, no file descriptor leak and a flat live heap (at the end
// within 1.25x + 8 MB of once warm); else 1.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { ROOT, startBaton } from './lib/baton.js';
import { parseDuration, sleep } from './lib/util.js';

const args = parseArgs(process.argv.slice(2));
const DURATION_MS = parseDuration(args.duration ?? '5m');
const CLIENTS = Number(args.clients ?? 200);
const SWAP_EVERY_MS = parseDuration(args['swap-every'] ?? '10s');
const MAX_REQUESTS = Number(args['max-requests'] ?? 50_000_000); // a hard bound on the loop

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue;
    const key = argv[i].slice(2);
    out[key] = argv[i + 1] === undefined || argv[i + 1].startsWith('--') ? true : argv[++i];
  }
  return out;
}

async function sample(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { rss_mb: Math.round(rssKb / 102.4) / 10, fds };
}

/** Baton's live heap in MB: a full collection through the inspector, then `heapUsed`. */
async function liveHeap(inspectorUrl) {
  const ws = new WebSocket(inspectorUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const mine = ++id;
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} took over 10 s`)), 10_000);
      const onMessage = (data) => {
        const msg = JSON.parse(data.toString());
        if (msg.id !== mine) return;
        clearTimeout(timer);
        ws.off('message', onMessage);
        if (msg.error) reject(new Error(`inspector: ${method}: ${msg.error.message}`));
        else resolve(msg.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const r = await call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true });
    return Math.round(r.result.value / 1024 / 102.4) / 10;
  } finally {
    ws.close();
  }
}

async function main() {
  const baton = await startBaton({
    command: [process.execPath, path.join(ROOT, 'examples/demo/server.js')],
    service: 'drain:\n  timeout: 10s\n  websocket_grace: 1s',
    nodeArgs: ['--inspect=127.0.0.1:0'],
  });
  const inspectorUrl = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(baton.output())?.[1];
  if (inspectorUrl === undefined) throw new Error(`soak: no inspector address in Baton's output:\n${baton.output()}`);
  const port = baton.port;
  try {
    const start = await sample(baton.pid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const counts = { requests: 0, failures: 0, swaps: 0, swap_failures: 0 };
    const failures = [];
    const deadline = performance.now() + DURATION_MS;
    const one = (post) =>
      new Promise((resolve) => {
        const body = post ? randomBytes(256 + Math.floor(Math.random() * 4096)) : undefined;
        const req = http.request(
          { host: '127.0.0.1', port, agent, method: post ? 'POST' : 'GET', path: post ? '/echo' : '/version', headers: post ? { 'content-length': body.length } : {} },
          (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
              const ok = res.statusCode === 200 && (!post || Buffer.compare(Buffer.concat(chunks), body) === 0);
              resolve(ok ? undefined : `status ${res.statusCode}`);
            });
            res.on('error', (e) => resolve(e.message));
          },
        );
        req.on('error', (e) => resolve(e.message));
        req.end(body);
      });
    const clients = Array.from({ length: CLIENTS }, async (_, i) => {
      let n = i;
      while (performance.now() < deadline && counts.requests < MAX_REQUESTS) {
        const why = await one(n++ % 2 === 0);
        counts.requests++;
        if (why !== undefined) {
          counts.failures++;
          if (failures.length < 10) failures.push(why);
        }
      }
    });
    const swapper = (async () => {
      let v = 2;
      while (performance.now() + SWAP_EVERY_MS < deadline) {
        await sleep(SWAP_EVERY_MS);
        const r = await baton.control('POST', '/v1/services/web/deploy', { version: `v${v++}` });
        counts.swaps++;
        if (r.body?.ok !== true) counts.swap_failures++;
      }
    })();
    const mid = [];
    const sampler = setInterval(() => void sample(baton.pid).then((s) => mid.push(s)), 5000);
    // RSS and live heap under load: once warm and as the load ends.
    let warm;
    const warmed = sleep(Math.min(5000, DURATION_MS / 4)).then(async () => {
      warm = await sample(baton.pid);
      warm.live_heap_mb = await liveHeap(inspectorUrl);
    });
    await Promise.all([...clients, swapper, warmed]);
    const loaded = await sample(baton.pid);
    loaded.live_heap_mb = await liveHeap(inspectorUrl);
    clearInterval(sampler);
    agent.destroy();
    // Pooled upstream sockets idle out after 4 s; client sockets close now.
    await sleep(6000);
    const end = await sample(baton.pid);
    const peakRss = Math.max(start.rss_mb, ...mid.map((s) => s.rss_mb), end.rss_mb);
    const report = { duration_s: DURATION_MS / 1000, clients: CLIENTS, ...counts, failure_examples: failures, start, warm, loaded, end, peak_rss_mb: peakRss };
    const leakedFds = end.fds - start.fds;
    // Flat: the live heap as the load ends within 1.25x (+8 MB) of once warm.
    const ok = counts.failures === 0 && counts.swap_failures === 0 && leakedFds <= 4 && loaded.live_heap_mb <= warm.live_heap_mb * 1.25 + 8;
    if (args.json) console.log(JSON.stringify({ ...report, ok }));
    else {
      console.log(`soak: ${counts.requests} requests, ${counts.swaps} swaps, ${counts.failures} failed requests, ${counts.swap_failures} failed swaps`);
      console.log(`soak: Baton RSS ${start.rss_mb} MB idle before, ${warm.rss_mb} MB warm, ${loaded.rss_mb} MB as the load ended, ${end.rss_mb} MB idle after (peak ${peakRss} MB)`);
      console.log(`soak: Baton fds ${start.fds} before, ${end.fds} after`);
      console.log(`soak: Baton live heap ${warm.live_heap_mb} MB warm, ${loaded.live_heap_mb} MB as the load ended`);
      if (failures.length) console.log('soak: failures:', failures);
    }
    process.exitCode = ok ? 0 : 1;
  } finally {
    await baton.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
