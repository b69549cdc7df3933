import { formatDuration } from '../config/duration.js';
import type { StatusBody, SwapEvent } from '../control/protocol.js';
import { isDone } from '../swap/swap.js';

/** One human line per swap event: step, duration, and what matters about it. */
export function formatEvent(e: SwapEvent): string {
  if (isDone(e)) {
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

function detail(step: string, r: Record<string, unknown>): string {
  switch (step) {
    case 'start':
      return `${r.address ?? ''} (${r.id ?? ''})`;
    case 'healthy':
      return `${r.probes} probe${r.probes === 1 ? '' : 's'}`;
    case 'hold':
      return `${r.queued} queued`;
    case 'switch':
      return `${r.from ?? '-'} -> ${r.to}`;
    case 'resume':
      return `${r.released} released`;
    case 'notify':
      return `${r.browsers} browser${r.browsers === 1 ? '' : 's'}`;
    case 'drain':
      return r.version === null ? 'nothing to drain' : `${r.version}: ${r.cut} cut, ${r.streams_ended} streams ended, ${r.websockets_closed} websockets closed`;
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
  const rows = [['SERVICE', 'STATE', 'ACTIVE', 'ADDRESS', 'PREVIOUS', 'INFLIGHT', 'QUEUED', 'WS']];
  for (const [name, v] of Object.entries(s.services)) {
    rows.push([
      name,
      v.healthy || v.active === null ? v.state : `${v.state} (unhealthy)`,
      v.active?.version ?? '-',
      v.active?.address ?? '-',
      v.previous?.version ?? '-',
      String(v.inflight),
      String(v.queued),
      String(v.websockets),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
