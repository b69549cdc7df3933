/**
 * Scenario 3: round trips of 100 concurrent echo WebSockets (each sends, waits for its echo,
 * sends again) direct, through Baton, nginx and HAProxy, interleaved; then Baton's RSS with
 * many idle proxied sockets (10,000, or as many as the open-files limit allows).
 */
import path from 'node:path';
import { BENCH, startBaton } from '../lib/baton.js';
import { startNginx, startHaproxy } from '../lib/peers.js';
import { forkClient } from '../lib/ipc.js';
import { freePort, nofile, rssKb, spawnPinned, stopPid, SUT_CORE, waitForPort } from '../lib/procs.js';
import { median, sleep, spread } from '../lib/util.js';

const ECHO = path.join(BENCH, 'apps/ws-echo.mjs');

export async function websockets({ rounds, seconds, sockets, idleTarget, node, log }) {
  const echoPort = await freePort();
  const echo = spawnPinned(SUT_CORE, node, [ECHO], { env: { ...process.env, PORT: String(echoPort) } });
  const stops = [() => stopPid(echo.pid)];
  const client = forkClient('ws-load.js');
  try {
    await waitForPort(echoPort);
    const targets = [{ id: 'direct', port: echoPort }];
    const baton = await startBaton({ node, command: [node, ECHO] });
    stops.push(() => baton.stop());
    targets.push({ id: 'baton', port: baton.port });
    const peerPorts = { UPSTREAM_PORT: await freePort(), WS_UPSTREAM_PORT: echoPort };
    const nginx = await startNginx(peerPorts);
    if (nginx !== undefined) {
      stops.push(() => nginx.stop());
      targets.push({ id: 'nginx', port: nginx.wsPort });
    }
    const haproxy = await startHaproxy(peerPorts);
    if (haproxy !== undefined) {
      stops.push(() => haproxy.stop());
      targets.push({ id: 'haproxy', port: haproxy.wsPort });
    }
    for (const t of targets) await client.ask({ cmd: 'echo', port: t.port, sockets, seconds: 1, size: 64 }, 'echo');
    const runs = [];
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + r) % targets.length];
        await sleep(200);
        const res = await client.ask({ cmd: 'echo', port: t.port, sockets, seconds, size: 64 }, 'echo');
        runs.push({ id: t.id, round: r + 1, ...res });
        log(`  round ${r + 1} ${t.id.padEnd(8)} ${Math.round(res.msgPerSec)} msg/s  p50 ${res.p50?.toFixed(2)} ms  p99 ${res.p99?.toFixed(2)} ms`);
      }
    }
    const rows = targets.map((t) => {
      const rs = runs.filter((r) => r.id === t.id);
      return {
        id: t.id,
        rounds: rs.length,
        msgPerSec: median(rs.map((r) => r.msgPerSec)),
        msgSpread: spread(rs.map((r) => r.msgPerSec)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        errors: rs.reduce((a, r) => a + r.errors, 0),
      };
    });

    // Idle sockets: each costs Baton two descriptors (client and upstream side).
    const limit = nofile();
    const count = Math.min(idleTarget, Math.floor((limit.hard - 512) / 2));
    if (count < idleTarget) log(`  open-files hard limit ${limit.hard} (not raisable here): ${count} idle sockets instead of ${idleTarget}`);
    await sleep(500);
    const before = rssKb(baton.pid);
    const opened = await client.ask({ cmd: 'idle', port: baton.port, count, batch: 250 }, 'idle', 180_000);
    await sleep(1000);
    const after = rssKb(baton.pid);
    await client.ask({ cmd: 'close' }, 'closed');
    const idle = {
      target: idleTarget,
      count,
      nofileHard: limit.hard,
      opened: opened.opened,
      failed: opened.failed,
      openMs: opened.ms,
      rssBeforeMb: before / 1024,
      rssAfterMb: after / 1024,
      kbPerSocket: (after - before) / Math.max(1, opened.opened),
    };
    log(`  ${opened.opened} idle proxied sockets: Baton RSS ${(before / 1024).toFixed(0)} -> ${(after / 1024).toFixed(0)} MiB`);
    return { sockets, seconds, runs, rows, idle };
  } finally {
    client.kill();
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}
