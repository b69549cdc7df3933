/** The markdown tables printed at the end of `npm run bench` (and pasted into the README). */
import { fmtMs, fmtNum, fmtPct, table } from './util.js';

export function report(results) {
  const out = [];
  const m = results.meta;
  out.push(`Load generator: ${m.loadGenerator}. ${m.pinning ? `System under test (proxy + upstream) pinned to core ${m.sutCore}, load generator to core ${m.loadCore}` : 'Not pinned (fewer than 2 cores or no taskset)'}; ${m.cpu}, ${m.cores} cores, Node ${m.node}; ${m.rounds} round(s) of ${m.seconds} s, medians, ± is half the min-max spread.${m.quick ? ' QUICK MODE: indicative only.' : ''}`);
  const s1 = results.throughput;
  if (s1 !== undefined) {
    out.push('', '### 1. Throughput and latency (~100-byte upstream, keep-alive)', '');
    out.push(
      table(
        ['configuration', 'c', 'req/s', '× direct', 'p50', 'p99', 'socket errors c/r/w/t', 'non-2xx', 'CPU µs/req', 'RSS MiB'],
        s1.rows.map((r) => [
          r.label,
          r.c,
          `${fmtNum(r.rps)} ${fmtPct(r.rpsSpread.pct)}`,
          r.id === 'direct' ? '1.00' : fmtNum(r.xDirect, 2),
          fmtMs(r.p50),
          fmtMs(r.p99),
          `${r.socketErrors.connect}/${r.socketErrors.read}/${r.socketErrors.write}/${r.socketErrors.timeout}`,
          r.non2xx,
          fmtNum(r.cpuUsPerReq),
          fmtNum(r.rssMb),
        ]),
      ),
    );
    out.push('', 'CPU µs/req is the proxy process(es) only (for "direct": the upstream itself), from /proc utime+stime.');
  }
  const s2 = results.swap;
  if (s2 !== undefined) {
    const b = s2.baton;
    const n = s2.nginxReload;
    out.push('', `### 2. Swap under load (${s2.deploys} deploys back to back, c=64 keep-alive, GET + POST 1-8 KiB echo checked, ${s2.forwarder} forwarder)`, '');
    const rows = [
      ['requests (failed)', `${fmtNum(b.requests)} (**${b.failed}**)`],
      ['deploys ok / failed', `${b.swapsOk} / ${b.swapsFailed}`],
      ['hold per swap p50 / p99 / max', `${fmtMs(b.holdMs.p50)} / ${fmtMs(b.holdMs.p99)} / ${fmtMs(b.holdMs.max)}`],
      ['p99 latency: steady / during deploys / in flight at a switch', `${fmtMs(b.latency.steady.p99)} / ${fmtMs(b.latency.duringDeploys.p99)} / ${fmtMs(b.latency.atSwitch.p99)} (${fmtNum(b.latency.atSwitch.n)} requests)`],
      ['p99 latency while the new version boots (same core)', fmtMs(b.latency.appStarting.p99)],
      ['deploy wall time p50', fmtMs(b.deploy.wallMs)],
      ['  app start (spawn + healthy)', `${fmtMs(b.deploy.appStartMs)} (${fmtMs(b.deploy.startMs)} + ${fmtMs(b.deploy.healthyMs)})`],
      ['  Baton: hold + switch + resume + notify (0.1 ms steps)', fmtMs(b.deploy.batonStepsMs)],
      ['  state file write (fsync)', fmtMs(b.deploy.stateWriteMs)],
      ['  drain old + stop old (SIGTERM until exit)', `${fmtMs(b.deploy.drainMs)} + ${fmtMs(b.deploy.stopMs)}`],
      ['  control API and the rest', fmtMs(b.deploy.otherMs)],
    ];
    if (n !== null && n !== undefined) {
      rows.push([`nginx: same load across ${n.reloads} \`nginx -s reload\` (${n.gapMs} ms apart)`, `${fmtNum(n.requests)} requests, **${n.failed} failed** ${JSON.stringify(n.errorCodes)}${n.failures.status ? `, ${n.failures.status} bad status` : ''}; p99 ${fmtMs(n.steadyP99)} steady, ${fmtMs(n.reloadP99)} reloading`]);
    }
    out.push(table(['measure', 'value'], rows));
  }
  const s3 = results.websocket;
  if (s3 !== undefined) {
    out.push('', `### 3. WebSockets (${s3.sockets} echo sockets, 64-byte messages, send-wait-echo loops)`, '');
    const nginx = s3.rows.find((r) => r.id === 'nginx');
    out.push(
      table(
        ['path', 'round trips/s', '× nginx', 'RTT p50', 'RTT p99', 'errors'],
        s3.rows.map((r) => [r.id, `${fmtNum(r.msgPerSec)} ${fmtPct(r.msgSpread.pct)}`, nginx ? fmtNum(r.msgPerSec / nginx.msgPerSec, 2) : '-', fmtMs(r.p50), fmtMs(r.p99), r.errors]),
      ),
    );
    const i = s3.idle;
    out.push('', `Idle proxied WebSockets: ${fmtNum(i.opened)} open${i.count < i.target ? ` (of ${fmtNum(i.target)} wanted: the open-files hard limit is ${i.nofileHard} and each costs Baton two)` : ''}, ${i.failed} failed; Baton RSS ${fmtNum(i.rssBeforeMb)} -> ${fmtNum(i.rssAfterMb)} MiB (${fmtNum(i.kbPerSocket, 1)} KiB per socket).`);
  }
  const s4 = results.hold;
  if (s4 !== undefined) {
    out.push('', `### 4. Hold queue (${fmtNum(s4.queued)} requests held, then released)`, '');
    out.push(
      table(
        ['measure', 'value'],
        [
          ['held (connected)', `${fmtNum(s4.queued)} (${fmtNum(s4.connected)})${s4.count < s4.target ? `; ${fmtNum(s4.target)} wanted, open-files limit` : ''}`],
          ['Baton RSS idle / holding / after', `${fmtNum(s4.rssIdleMb)} / ${fmtNum(s4.rssHeldMb)} / ${fmtNum(s4.rssAfterMb)} MiB (${fmtNum(s4.kbPerHeld, 1)} KiB per held request)`],
          ['release: first -> last answer', fmtMs(s4.releaseFirstToLastMs)],
          ['release: resume -> last answer', fmtMs(s4.resumeToLastMs)],
          ['answers 200 / other / errors', `${s4.ok} / ${s4.other} / ${s4.errors}`],
        ],
      ),
    );
  }
  if (results.targets?.length) {
    out.push('', '### Targets', '');
    out.push(table(['target', 'goal', 'measured', 'met'], results.targets.map((t) => [t.name, t.goal, t.measured, t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'])));
  }
  return out.join('\n');
}

/** The issue's targets, judged on the default forwarder. */
export function judge(results, defaultForwarder) {
  const t = [];
  const rows = results.throughput?.rows ?? [];
  const row = (id, c) => rows.find((r) => r.id === id && r.c === c);
  const b50 = row(`baton-${defaultForwarder}`, 50);
  const b200 = row(`baton-${defaultForwarder}`, 200);
  const nginx50 = row('nginx', 50);
  if (b50 !== undefined && row('direct', 50) !== undefined) {
    t.push({ name: 'req/s at c=50 vs direct', goal: '≥ 0.30x (stretch 0.50x)', measured: `${b50.xDirect.toFixed(2)}x${nginx50 ? ` (${(b50.rps / nginx50.rps).toFixed(2)}x nginx)` : ''}`, met: b50.xDirect >= 0.3, stretch: b50.xDirect >= 0.5 });
  }
  if (b50 !== undefined) t.push({ name: 'Baton CPU per request, c=50', goal: '≤ 110 µs', measured: `${b50.cpuUsPerReq.toFixed(0)} µs`, met: b50.cpuUsPerReq <= 110 });
  if (b200 !== undefined) {
    t.push({ name: 'c=200 timeouts', goal: '0', measured: String(b200.socketErrors.timeout), met: b200.socketErrors.timeout === 0 });
    t.push({ name: 'c=200 p99', goal: '< 150 ms', measured: `${b200.p99.toFixed(1)} ms`, met: b200.p99 < 150 });
  }
  const off = row('baton-nometrics', 50);
  if (off !== undefined && b50 !== undefined) {
    const cost = (1 - b50.rps / off.rps) * 100;
    const noise = Math.max(b50.rpsSpread.pct, off.rpsSpread.pct) / 2;
    const measured = cost <= 0 ? `none measurable (on ${Math.round(b50.rps)} vs off ${Math.round(off.rps)} req/s, spread ±${noise.toFixed(0)}%)` : `${cost.toFixed(1)}% (spread ±${noise.toFixed(0)}%)`;
    t.push({ name: 'metrics cost (req/s, on vs off, c=50)', goal: '< 5%', measured, met: cost < 5 });
  }
  const ws = results.websocket?.rows;
  if (ws !== undefined) {
    const b = ws.find((r) => r.id === 'baton');
    const n = ws.find((r) => r.id === 'nginx');
    t.push({ name: 'WebSocket msg/s vs nginx', goal: '≥ 0.8x', measured: n && b ? `${(b.msgPerSec / n.msgPerSec).toFixed(2)}x` : 'nginx absent', met: n && b ? b.msgPerSec / n.msgPerSec >= 0.8 : null });
  }
  if (results.swap?.baton !== undefined) {
    const s = results.swap.baton;
    t.push({ name: 'failed requests across deploys', goal: '0', measured: `${s.failed} of ${s.requests}`, met: s.failed === 0 && s.swapsFailed === 0 });
  }
  return t;
}
