/** The markdown tables printed at the end of `npm run bench` (and pasted into the README). */
import { fmtMs, fmtNum, fmtPct, table } from './util.js';

export function report(results) {
  const out = [];
  const m = results.meta;
  out.push(`Load generator: ${m.loadGenerator}. ${m.pinning ? `System under test (proxy + upstream) pinned to core ${m.sutCore}, load generator to core ${m.loadCore}` : 'Not pinned (fewer than 2 cores or no taskset)'}; ${m.cpu}, ${m.cores} cores; Baton, the Node proxies and the upstreams on Node ${m.node}${m.batonNode ? ` (Baton also on ${m.batonNode})` : ''}; ${m.rounds} round(s) of ${m.seconds} s, medians, ± is half the min-max spread.${m.quick ? ' QUICK MODE: indicative only.' : ''}`);
  const s1 = results.throughput;
  if (s1 !== undefined) out.push(...throughputSection(s1, m));
  const s2 = results.swap;
  if (s2 !== undefined) {
    const b = s2.baton;
    const n = s2.nginxReload;
    out.push('', `### 2. Swap under load (${s2.deploys} deploys back to back, c=64 keep-alive, GET + POST 1-8 KiB echo checked)`, '');
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

/** The issues' targets (5 and 10), judged on Baton on the bench Node (configuration "baton"). */
export function judge(results) {
  const t = [];
  const s1 = results.throughput;
  const rows = s1?.rows ?? [];
  const row = (workload, id) => rows.find((r) => r.workload === workload && r.id === id);
  for (const w of s1?.workloads ?? []) {
    if (w.goal === undefined) continue;
    const b = row(w.id, 'baton');
    const x = b?.vs[w.goal.vs];
    const pair = s1.paired?.find((p) => p.workload === w.id && p.vs === w.goal.vs);
    const pairs = pair === undefined ? '' : `; back to back ${pair.x.toFixed(2)}x (${pair.ratios.length} pairs ${rangeOf(pair.ratios)})`;
    const measured = x === undefined ? `${w.goal.vs} or Baton absent` : `${x.x.toFixed(2)}x (rounds ${rangeOf(x.rounds)})${pairs}`;
    t.push({ name: `${w.label}, c=${w.c}: Baton vs ${w.goal.vs}`, goal: `≥ ${w.goal.min.toFixed(2)}x`, measured, met: x === undefined || !Number.isFinite(x.x) ? null : x.x >= w.goal.min });
  }
  const b50 = row('get', 'baton');
  const b200 = row('get-c200', 'baton');
  if (b50 !== undefined && row('get', 'direct') !== undefined) {
    t.push({ name: 'small GET req/s at c=50 vs direct', goal: '≥ 0.30x (stretch 0.50x)', measured: `${b50.xDirect.toFixed(2)}x`, met: b50.xDirect >= 0.3, stretch: b50.xDirect >= 0.5 });
  }
  if (b50 !== undefined) t.push({ name: 'Baton CPU per small GET, c=50', goal: '≤ 110 µs', measured: `${b50.cpuUsPerReq.toFixed(0)} µs`, met: b50.cpuUsPerReq <= 110 });
  if (b200 !== undefined) {
    t.push({ name: 'c=200 timeouts', goal: '0', measured: String(b200.socketErrors.timeout), met: b200.socketErrors.timeout === 0 });
    t.push({ name: 'c=200 p99', goal: '< 150 ms', measured: `${b200.p99.toFixed(1)} ms`, met: b200.p99 < 150 });
  }
  const off = row('get', 'baton-nometrics');
  if (off !== undefined && b50 !== undefined) {
    const cost = (1 - b50.rps / off.rps) * 100;
    const noise = Math.max(b50.rpsSpread.pct, off.rpsSpread.pct) / 2;
    const measured = cost <= 0 ? `none measurable (on ${Math.round(b50.rps)} vs off ${Math.round(off.rps)} req/s, spread ±${noise.toFixed(0)}%)` : `${cost.toFixed(1)}% (spread ±${noise.toFixed(0)}%)`;
    t.push({ name: 'metrics cost (req/s, on vs off, small GET c=50)', goal: '< 5%', measured, met: cost < 5 });
  }
  // Issue 16: the access log's cost, on (baton-accesslog) vs off (baton), per workload it ran.
  for (const w of ['get', 'post-1k']) {
    const on = row(w, 'baton-accesslog');
    const off = row(w, 'baton');
    if (on === undefined || off === undefined) continue;
    const cost = (1 - on.rps / off.rps) * 100;
    const noise = Math.max(on.rpsSpread.pct, off.rpsSpread.pct) / 2;
    const cpu = on.cpuUsPerReq - off.cpuUsPerReq;
    const measured = `${cost <= 0 ? 'none measurable' : `${cost.toFixed(1)}%`} (on ${Math.round(on.rps)} vs off ${Math.round(off.rps)} req/s, spread ±${noise.toFixed(0)}%; CPU ${cpu >= 0 ? '+' : ''}${cpu.toFixed(1)} µs/req)`;
    t.push({ name: `access log cost (req/s, on vs off, ${w} c=${on.c ?? 50})`, goal: '< 10%', measured, met: cost < 10 });
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

function rangeOf(xs) {
  const v = xs.filter(Number.isFinite);
  if (v.length === 0) return '-';
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return lo === hi ? lo.toFixed(2) : `${lo.toFixed(2)}-${hi.toFixed(2)}`;
}

/** Scenario 1: a table per workload, Baton against the peers, and where the time goes. */
function throughputSection(s1, m) {
  const out = [];
  const peers = ['nginx', 'nginx-fwd', 'haproxy'];
  const peerName = { nginx: 'nginx', 'nginx-fwd': 'nginx + fwd fields', haproxy: 'HAProxy' };
  const present = peers.filter((p) => s1.rows.some((r) => r.id === p));
  out.push('', '### 1. Throughput and latency', '');
  out.push(`Each workload against each configuration, interleaved (order rotated every round, reversed every other round); ratios are of medians from the same run. CPU µs/req is the proxy process(es) only (for "direct": the upstream itself), from /proc utime (user) + stime (kernel).`);
  for (const w of s1.workloads) {
    const rows = s1.rows.filter((r) => r.workload === w.id);
    if (rows.length === 0) continue;
    out.push('', `#### ${w.label}, c=${w.c} (\`${w.id}\`)`, '');
    out.push(
      table(
        ['configuration', 'req/s', '× direct', ...present.map((p) => `× ${peerName[p]}`), 'p50', 'p99', 'socket errors c/r/w/t', 'non-2xx', 'CPU µs/req (user + kernel)', 'RSS MiB'],
        rows.map((r) => [
          r.id === 'baton' ? `**${r.label}**` : r.label,
          `${fmtNum(r.rps)} ${fmtPct(r.rpsSpread.pct)}`,
          r.id === 'direct' ? '1.00' : fmtNum(r.xDirect, 2),
          ...present.map((p) => (r.id === p ? '1.00' : fmtNum(r.vs[p]?.x, 2))),
          fmtMs(r.p50),
          fmtMs(r.p99),
          `${r.socketErrors.connect}/${r.socketErrors.read}/${r.socketErrors.write}/${r.socketErrors.timeout}`,
          r.non2xx,
          `${fmtNum(r.cpuUsPerReq)} (${fmtNum(r.userUsPerReq)} + ${fmtNum(r.sysUsPerReq)})`,
          fmtNum(r.rssMb),
        ]),
      ),
    );
  }

  // Baton against the peers, one line per workload (and Baton on the second Node, if any).
  const batons = s1.targets.filter((t) => t.id === 'baton' || /^baton-node\d+$/.test(t.id));
  if (batons.length > 0 && present.length > 0) {
    out.push('', '#### Baton against nginx and HAProxy (same run; the range is the ratio within each round)', '');
    const header = ['workload', ...batons.map((b) => `${b.label} req/s`), ...present.map((p) => `${peerName[p]} req/s`)];
    for (const b of batons) for (const p of present) header.push(`${b.label} × ${peerName[p]}`);
    header.push('goal');
    const lines = s1.workloads.map((w) => {
      const r = (id) => s1.rows.find((x) => x.workload === w.id && x.id === id);
      const cells = [`${w.label}, c=${w.c}`, ...batons.map((b) => fmtNum(r(b.id)?.rps)), ...present.map((p) => fmtNum(r(p)?.rps))];
      for (const b of batons)
        for (const p of present) {
          const v = r(b.id)?.vs[p];
          cells.push(v === undefined ? '-' : `${fmtNum(v.x, 2)} (${rangeOf(v.rounds)})`);
        }
      cells.push(w.goal === undefined ? '-' : `≥ ${w.goal.min.toFixed(2)}x ${peerName[w.goal.vs] ?? w.goal.vs}`);
      return cells;
    });
    out.push(table(header, lines));
  }

  // Where the time goes: CPU split from the measured rounds, syscalls from the separate pass.
  const profiled = ['baton', ...s1.targets.filter((t) => /^baton-node\d+$/.test(t.id)).map((t) => t.id), 'relay', 'min', 'min-fwd', 'tls-relay', 'tls-min', 'nginx', 'nginx-fwd', 'haproxy'];
  const lines = [];
  for (const w of s1.workloads) {
    if (w.profile === false) continue;
    for (const id of profiled) {
      const r = s1.rows.find((x) => x.workload === w.id && x.id === id);
      if (r === undefined) continue;
      const p = s1.profile.rows.find((x) => x.workload === w.id && x.id === id);
      lines.push([`${w.id}`, r.label, fmtNum(r.userUsPerReq, 1), fmtNum(r.sysUsPerReq, 1), fmtNum(r.cpuUsPerReq, 1), fmtNum(r.appUsPerReq, 1), fmtNum(r.cpuUsPerReq / r.appUsPerReq, 2), p === undefined ? '-' : fmtNum(p.syscallsPerReq, 2), p === undefined ? '-' : p.top.map((x) => `${x.name} ${x.perReq.toFixed(2)}`).join(', ')]);
    }
  }
  if (lines.length > 0) {
    out.push('', '#### Where the time goes (per request: the proxy process, and the upstream app it fed)', '');
    out.push(table(['workload', 'configuration', 'user µs', 'kernel µs', 'total µs', 'upstream µs', 'proxy / upstream', 'syscalls', 'top syscalls'], lines));
    const how =
      s1.profile.tool === 'perf'
        ? `Syscalls counted with \`perf stat\` on the proxy's pids (raw_syscalls:sys_enter for the total, syscalls:sys_enter_NAME for the breakdown) over a separate ${s1.profile.seconds} s load per cell (not the measured rounds).`
        : s1.profile.tool === 'strace'
          ? `Syscalls counted with \`strace -c -f\` over a separate ${s1.profile.seconds} s load per cell: ptrace slows the proxy, so reads batch more than they would; perf's counts are the ones to quote.`
          : 'Syscalls not counted (neither perf nor strace usable, or --syscalls off).';
    out.push(
      '',
      `${how} CPU from /proc over the measured rounds (medians; 10 ms clock ticks). "upstream µs": the same app program on the same Node, in the same loads: the shared upstream behind nginx, HAProxy and the relays, the app Baton runs behind Baton. Both share the proxy's core, so req/s follows the sum.`,
    );
  }

  const nginxRows = s1.rows.filter((r) => r.id === 'nginx');
  if (nginxRows.length > 0) {
    const spilled = nginxRows.filter((r) => r.bufferedToDisk > 0);
    out.push(
      '',
      spilled.length === 0
        ? 'nginx wrote no request or response body to a temporary file in any workload (its error log has no "buffered to a temporary file").'
        : `nginx buffered bodies to temporary files: ${spilled.map((r) => `${r.workload} ${r.bufferedToDisk}x`).join(', ')} (error log): those cells include disk writes the other proxies do not make.`,
    );
  }
  if (s1.skipped.length > 0) out.push('', `Skipped: ${s1.skipped.map((x) => `${x.id} (${x.why})`).join('; ')}.`);
  return out;
}
