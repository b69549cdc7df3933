/**
 * `baton history [SERVICE] [-n N] [--json]`: the deploy history, newest first, as a table (or
 * the body of GET /v1/history). A failed change gets a line of its own with its error.
 */
import { request, type ControlTarget } from './client.js';
import { replyError } from './control.js';
import { EXIT } from './exit.js';
import { formatDuration } from '../config/duration.js';
import type { Caller, HistoryBody, HistoryEntry } from '../control/protocol.js';

export async function history(target: ControlTarget, service: string | undefined, n: number, json: boolean): Promise<number> {
  const query = new URLSearchParams({ n: String(n) });
  if (service !== undefined) query.set('service', service);
  const reply = await request(target, 'GET', `/v1/history?${query.toString()}`);
  if (reply.status !== 200) return replyError(reply);
  const body = reply.body as HistoryBody;
  process.stdout.write(json ? JSON.stringify(body, null, 2) + '\n' : formatHistory(body.history) + '\n');
  return EXIT.ok;
}

/** The table: one row per record, newest first; an error line under each failed one. */
export function formatHistory(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'no history yet';
  const rows = [['STARTED', 'SERVICE', 'KIND', 'CHANGE', 'OUTCOME', 'TOOK', 'HOLD', 'BY']];
  const errors = new Map<number, string>();
  for (const e of entries) {
    rows.push([
      localTime(e.started_at),
      e.service ?? '-',
      e.kind,
      change(e),
      e.outcome,
      e.ms === null ? '-' : formatDuration(e.ms),
      e.hold_ms === null ? '-' : formatDuration(e.hold_ms),
      callerText(e.by),
    ]);
    if (e.error !== null) errors.set(rows.length - 1, `  ${e.error.step === undefined ? '' : `at ${e.error.step}: `}${e.error.message} [${e.error.code}]`);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines: string[] = [];
  rows.forEach((r, i) => {
    lines.push(r.map((c, j) => c.padEnd(widths[j]!)).join('  ').trimEnd());
    const err = errors.get(i);
    if (err !== undefined) lines.push(err);
  });
  return lines.join('\n');
}

function change(e: HistoryEntry): string {
  const d = e.detail;
  switch (e.kind) {
    case 'deploy':
    case 'rollback':
    case 'promote':
      return `${e.previous ?? '-'} -> ${e.version ?? '-'}`;
    case 'canary':
      return `${e.version ?? '-'} at ${String(d.percent)}% (${e.previous ?? '-'} the rest)`;
    case 'pause':
      return typeof d.timeout_ms === 'number' ? `for at most ${formatDuration(d.timeout_ms)}` : 'until resumed';
    case 'resume':
      return `${String(d.released ?? 0)} released`;
    case 'maintenance':
      return d.on === true ? `on${typeof d.message === 'string' && d.message !== '' ? `: ${d.message}` : ''}` : 'off';
    case 'reload': {
      const list = (k: string): string[] => (Array.isArray(d[k]) ? (d[k] as unknown[]).map(String) : []);
      const parts = (['added', 'removed', 'changed'] as const).filter((k) => list(k).length > 0).map((k) => `${k} ${list(k).join(',')}`);
      return parts.length === 0 ? (e.outcome === 'failed' ? '-' : 'no service changed') : parts.join('; ');
    }
    case 'upgrade':
      return `pid ${String(d.previous_pid ?? '-')} -> ${e.outcome === 'ok' ? String(d.pid ?? '-') : '-'}`;
  }
}

export function callerText(by: Caller): string {
  switch (by.via) {
    case 'socket':
      return 'socket';
    case 'tcp':
      return `token ${by.token} (${by.address})`;
    case 'signal':
      return by.signal;
  }
}

/** `2026-12-01 10:30:55` in the local time zone. */
function localTime(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
