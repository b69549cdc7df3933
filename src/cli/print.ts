import { formatDuration } from '../config/duration.js';
import type { StatusBody, SwapEvent, UpgradeDone, UpgradeEvent } from '../control/protocol.js';
import { isDone } from '../swap/swap.js';
import { isUpgradeDone } from '../upgrade/handover.js';
import type { ReloadReport } from '../reload.js';

/** One human line per swap event: step, duration, and what matters about it. */
export function formatEvent(e: SwapEvent): string {
  if (isDone(e)) {
    if (e.ok && e.canary !== undefined) return `done      ${pad(formatDuration(e.ms))}  ${e.version} takes ${e.canary}% of clients (promote or rollback to end the canary)`;
    if (e.ok) return `done      ${pad(formatDuration(e.ms))}  ${e.version} is live (hold ${formatDuration(e.hold_ms)})`;
    const err = e.error;
    const lines = [`failed    at ${err.step}: ${err.message}`];
    const output = err.output;
    if (Array.isArray(output) && output.length > 0) lines.push('  last output:', ...output.map((l) => `    ${String(l)}`));
    lines.push('  the previous version is still serving');
    return lines.join('\n');
  }
  const { step, ms, ...rest } = e;
  return `${step.padEnd(9)} ${pad(formatDuration(ms))}  ${detail(step, rest)}`.trimEnd();
}

/** One human line per upgrade event (`baton upgrade`, and the log of a SIGUSR2). */
export function formatUpgradeEvent(e: UpgradeEvent | UpgradeDone): string {
  if (isUpgradeDone(e)) {
    if (e.ok) return `done      ${pad(formatDuration(e.ms))}  Baton is now pid ${e.pid} (was ${e.previous_pid})`;
    const lines = [`failed    at ${e.error.step}: ${e.error.message}`];
    if (e.error.output !== undefined && e.error.output.length > 0) lines.push('  last output of the new process:', ...e.error.output.map((l) => `    ${l}`));
    lines.push('  the running Baton serves on, unchanged');
    return lines.join('\n');
  }
  const { step, ms, ...r } = e;
  let text = '';
  if (step === 'spawn' || step === 'ready') text = `pid ${r.pid}`;
  else if (step === 'adopt') {
    const services = (r.services ?? {}) as Record<string, { version: string; instances: number; canary?: string }>;
    text = Object.entries(services)
      .map(([name, s]) => `${name} ${s.version} (${s.instances} instance${s.instances === 1 ? '' : 's'}${s.canary === undefined ? '' : `, canary ${s.canary}`})`)
      .join(', ');
  } else if (step === 'handover') text = 'the new process accepts; this one finishes what it has';
  else if (step === 'drain') text = `${r.cut} cut, ${r.streams_ended} streams ended, ${r.websockets_closed} websockets closed (1012)`;
  return `${step.padEnd(9)} ${pad(formatDuration(ms))}  ${text}`.trimEnd();
}

function detail(step: string, r: Record<string, unknown>): string {
  switch (step) {
    case 'start':
      return Array.isArray(r.replicas) ? `${r.replicas.length} instances: ${r.replicas.map((x: { address: string }) => x.address).join(', ')}` : `${r.address ?? ''} (${r.id ?? ''})`;
    case 'healthy':
      return `${r.probes} probe${r.probes === 1 ? '' : 's'}`;
    case 'hold':
      return `${r.queued} queued`;
    case 'quiesce':
      return r.version === null ? '' : `${r.version}: no request in flight${Number(r.cut) > 0 ? ` (${r.cut} cut at drain.timeout)` : ''}`;
    case 'migrate': {
      const out = Array.isArray(r.output) ? r.output : [];
      return `exit ${r.exit_code}${out.length > 0 ? `: ${String(out.at(-1))}` : ''}`;
    }
    case 'canary':
      return `${r.version} takes ${r.percent}% of clients, ${r.stable ?? '-'} the rest`;
    case 'rollback':
      return `${r.from} -> ${r.to}`;
    case 'switch':
      return `${r.from ?? '-'} -> ${r.to}`;
    case 'resume':
      return `${r.released} released${Number(r.timed_out) > 0 ? `; ${r.timed_out} answered 503 at hold.timeout while the migration ran` : ''}`;
    case 'notify':
      return `${r.browsers} browser${r.browsers === 1 ? '' : 's'}`;
    case 'drain':
      return r.version === null
        ? 'nothing to drain'
        : `${r.version}: ${r.cut} cut, ${r.streams_ended} streams ended, ${r.websockets_closed} websockets closed${r.cut_short === true ? ' (cut short: Baton is stopping)' : ''}`;
    case 'stop':
      return r.version === null ? '' : `${r.version} stopped`;
    default:
      return '';
  }
}

function pad(s: string): string {
  return s.padStart(8);
}

export function formatStatus(s: StatusBody): string {
  const rows = [['SERVICE', 'STATE', 'ACTIVE', 'ADDRESS', 'PREVIOUS', 'INFLIGHT', 'QUEUED', 'WS', 'REPLICAS', 'ROUTES']];
  const notes: string[] = [];
  for (const [name, v] of Object.entries(s.services)) {
    const replicas = v.replicas ?? [];
    const healthy = replicas.filter((r) => r.healthy).length;
    const restarts = replicas.reduce((n, r) => n + r.restarts, 0);
    const paths = v.paths ?? ['/'];
    const routes = v.hosts.flatMap((h) => paths.map((p) => (p === '/' ? h : `${h}${p}`))).join(',');
    rows.push([
      name,
      v.healthy || v.active === null ? v.state : `${v.state} (unhealthy)`,
      v.active?.version ?? '-',
      v.active?.address ?? '-',
      v.previous?.version ?? '-',
      String(v.inflight),
      String(v.queued),
      String(v.websockets),
      `${healthy}/${replicas.length}${restarts > 0 ? ` (${restarts} restart${restarts === 1 ? '' : 's'})` : ''}`,
      routes,
    ]);
    for (const r of replicas) {
      if (r.restart_at === null || r.restart_at === undefined) continue;
      const wait = Math.max(0, Date.parse(r.restart_at) - Date.now());
      notes.push(`${name}: the instance at ${r.address} exited (${r.crashes_in_a_row} crash${r.crashes_in_a_row === 1 ? '' : 'es'} in a row); replaced in ${formatDuration(wait)}`);
    }
    if (v.canary !== null) notes.push(`${name}: canary ${v.canary.version} takes ${v.canary.percent}% of clients`);
    for (const d of v.draining) notes.push(`${name}: draining ${d.version}: ${d.inflight} in flight, ${d.websockets} websocket${d.websockets === 1 ? '' : 's'}`);
    if (v.swapping !== null) notes.push(`${name}: ${v.swapping.kind} to ${v.swapping.version} at ${v.swapping.step} for ${formatDuration(v.swapping.elapsed_ms)}`);
    if (v.maintenance !== null) notes.push(`${name}: in maintenance since ${v.maintenance.since}${v.maintenance.message === '' ? '' : `: ${v.maintenance.message}`}`);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  return notes.length === 0 ? table : `${table}\n\n${notes.join('\n')}`;
}

/** What a reload changed, a line per kind of change. */
export function formatReload(r: ReloadReport): string {
  const lines: string[] = [];
  const list = (names: string[]): string => (names.length === 0 ? '-' : names.join(', '));
  lines.push(`added      ${list(r.added)}`);
  lines.push(`removed    ${list(r.removed)}${r.removed.length > 0 ? ' (draining, then stopped)' : ''}`);
  for (const c of r.changed) {
    const parts = [c.now.length > 0 ? `${c.now.join(', ')} now` : '', c.next_deploy.length > 0 ? `${c.next_deploy.join(', ')} at its next deploy (the running version keeps its settings)` : ''].filter(Boolean);
    lines.push(`changed    ${c.service}: ${parts.join('; ')}`);
  }
  if (r.changed.length === 0) lines.push('changed    -');
  lines.push(`unchanged  ${list(r.unchanged)}`);
  if (r.global.length > 0) lines.push(`applied    ${r.global.join(', ')}`);
  // Listener addresses move at the next `baton upgrade` (the new process binds them); the state file only at a restart.
  const rebind = r.restart_required.filter((k) => k !== 'state_file');
  if (rebind.length > 0) lines.push(`not applied: ${rebind.join(', ')} (applied by \`baton upgrade\` or a restart)`);
  if (r.restart_required.includes('state_file')) lines.push('not applied: state_file (needs a stop and start)');
  for (const f of r.failed) lines.push(`failed     ${f.service}: ${f.error.message} (not routed)`);
  lines.push(`reloaded in ${formatDuration(r.ms)}`);
  return lines.join('\n');
}
