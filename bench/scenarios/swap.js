/**
 * Scenario 2: c=64 keep-alive clients mixing GETs and POSTs (1-8 KiB bodies, echo checked)
 * while Baton runs `deploys` deploys back to back over the control socket (process runtime,
 * a fast-starting app). Then, for reference, the same load across as many `nginx -s reload`.
 */
import path from 'node:path';
import { BENCH, startBaton } from '../lib/baton.js';
import { startNginx } from '../lib/peers.js';
import { forkClient } from '../lib/ipc.js';
import { freePort, spawnPinned, stopPid, SUT_CORE, waitForPort } from '../lib/procs.js';
import { median, now, percentile, sleep } from '../lib/util.js';

const APP = path.join(BENCH, 'apps/app.mjs');
const LOAD = { concurrency: 64, mix: 'mixed', path: '/', postMin: 1024, postMax: 8192, verify: true, timeoutMs: 10_000 };

async function withLoad(port, steadyMs, body) {
  const load = forkClient('http-load.js');
  try {
    const started = load.ask({ cmd: 'start', opts: { ...LOAD, port } }, 'started');
    await started;
    // The first moments warm the connections up: steady state starts a little later.
    await sleep(300);
    const steady = [now(), 0];
    await sleep(steadyMs);
    steady[1] = now();
    const windows = await body();
    await sleep(300);
    await load.ask({ cmd: 'stop' }, 'ended', 60_000);
    return await load.ask({ cmd: 'result', windows: { steady: [steady], ...windows } }, 'result', 120_000);
  } finally {
    load.kill();
  }
}

export async function swapUnderLoad({ deploys, steadyMs, reloadGapMs, node, log }) {
  const out = { deploys };
  const baton = await startBaton({
    node,
    command: [node, APP],
    service: 'drain:\n  timeout: 10s\n  websocket_grace: 0s\nhold:\n  timeout: 10s',
  });
  const swaps = [];
  try {
    const load = await withLoad(baton.port, steadyMs, async () => {
      const deployWindows = [];
      const switchWindows = [];
      const bootWindows = [];
      for (let k = 0; k < deploys; k++) {
        const events = {};
        const t0 = now();
        const reply = await baton.control('POST', '/v1/services/web/deploy', { version: `v${k + 2}` }, (e) => {
          if (e.step !== undefined) events[e.step] = { ...e, at: now() };
        });
        const t1 = now();
        const done = reply.body;
        swaps.push({
          ok: done?.ok === true,
          error: done?.error?.code,
          holdMs: done?.hold_ms,
          wallMs: t1 - t0,
          steps: Object.fromEntries(Object.entries(events).map(([k2, e]) => [k2, e.ms])),
          // Reported on the drain event, measured outside the drain's own time.
          stateWriteMs: events.drain?.state_write_ms ?? 0,
        });
        deployWindows.push([t0, t1]);
        // The switch happens between the 'healthy' and 'notify' events (hold, switch, resume in one tick).
        if (events.healthy && events.notify) switchWindows.push([events.healthy.at, events.notify.at]);
        if (events.healthy) bootWindows.push([t0, events.healthy.at]);
        if (done?.ok !== true) log(`  deploy v${k + 2} failed: ${JSON.stringify(done)}`);
      }
      return { deploys: deployWindows, switch: switchWindows, appStarting: bootWindows };
    });
    out.baton = summarize(load, swaps);
    log(`  baton: ${load.requests} requests, ${load.failed} failed, hold p50 ${out.baton.holdMs.p50} ms max ${out.baton.holdMs.max} ms, deploy wall p50 ${out.baton.deploy.wallMs.toFixed(0)} ms`);
  } finally {
    await baton.stop();
  }

  // Reference: the same load through nginx while it reloads its configuration as many times.
  const appPort = await freePort();
  const app = spawnPinned(SUT_CORE, node, [APP], { env: { ...process.env, PORT: String(appPort), BATON_VERSION: 'nginx' } });
  try {
    await waitForPort(appPort);
    const nginx = await startNginx({ UPSTREAM_PORT: appPort, WS_UPSTREAM_PORT: await freePort() });
    if (nginx === undefined) {
      out.nginxReload = null;
      log('  nginx not installed: reload reference skipped');
    } else {
      try {
        const load = await withLoad(nginx.port, steadyMs, async () => {
          const windows = [];
          for (let k = 0; k < deploys; k++) {
            const t0 = now();
            await nginx.reload();
            await sleep(reloadGapMs);
            windows.push([t0, now()]);
          }
          return { reloads: windows };
        });
        out.nginxReload = {
          reloads: deploys,
          gapMs: reloadGapMs,
          requests: load.requests,
          failed: load.failed,
          failures: load.failures,
          errorCodes: load.errorCodes,
          samples: load.samples,
          steadyP99: load.windows.steady.p99,
          reloadP99: load.windows.reloads.p99,
        };
        log(`  nginx -s reload x${deploys}: ${load.requests} requests, ${load.failed} failed ${JSON.stringify(load.errorCodes)}`);
      } finally {
        await nginx.stop();
      }
    }
  } finally {
    await stopPid(app.pid);
  }
  return out;
}

function summarize(load, swaps) {
  const ok = swaps.filter((s) => s.ok);
  const holds = ok.map((s) => s.holdMs).sort((a, b) => a - b);
  const step = (name) => median(ok.map((s) => s.steps[name] ?? 0));
  const appStart = median(ok.map((s) => (s.steps.start ?? 0) + (s.steps.healthy ?? 0)));
  const own = median(ok.map((s) => (s.steps.hold ?? 0) + (s.steps.switch ?? 0) + (s.steps.resume ?? 0) + (s.steps.notify ?? 0)));
  return {
    requests: load.requests,
    failed: load.failed,
    failures: load.failures,
    errorCodes: load.errorCodes,
    samples: load.samples,
    rps: load.rps,
    swapsOk: ok.length,
    swapsFailed: swaps.length - ok.length,
    holdMs: { p50: percentile(holds, 50), p99: percentile(holds, 99), max: holds.at(-1) },
    latency: {
      steady: load.windows.steady,
      duringDeploys: load.windows.deploys,
      atSwitch: load.windows.switch,
      appStarting: load.windows.appStarting,
    },
    deploy: {
      wallMs: median(ok.map((s) => s.wallMs)),
      appStartMs: appStart,
      startMs: step('start'),
      healthyMs: step('healthy'),
      batonStepsMs: own,
      stateWriteMs: median(ok.map((s) => s.stateWriteMs)),
      drainMs: step('drain'),
      stopMs: step('stop'),
      // Control round trip, event delivery, and the hold/switch overlap of the step clocks.
      otherMs: median(ok.map((s) => s.wallMs - s.stateWriteMs - Object.values(s.steps).reduce((a, b) => a + b, 0))),
    },
  };
}
