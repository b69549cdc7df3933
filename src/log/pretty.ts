/**
 * pino's JSON records -> one compact line for people at a terminal:
 *
 *   14:03:07.218 INFO  web     process started  version=v2 app_pid=4121 port=41234
 *
 * time (local, to the millisecond), level, the service (or Baton's component), the message,
 * then the remaining fields as key=value. Pure: no process access.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOR: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };

/** Keys shown in their own column, or not at all (pid and hostname repeat on every line). */
const OWN_COLUMNS = new Set(['time', 'level', 'msg', 'service', 'component', 'pid', 'hostname', 'v']);
/** Keys of an app's own JSON line that the line's columns already say. */
const APP_NOISE = new Set(['time', 'timestamp', 'level', 'msg', 'message', 'pid', 'hostname', 'v']);

const NAME_WIDTH = 7;

export interface PrettyOptions {
  /** ANSI colours (a TTY without NO_COLOR). */
  color: boolean;
}

/** Format one JSON log line; a line that is not a JSON object is returned unchanged. */
export function prettyLine(json: string, opts: PrettyOptions): string {
  let rec: unknown;
  try {
    rec = JSON.parse(json);
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return json.endsWith('\n') ? json : json + '\n';
  return prettyRecord(rec as Record<string, unknown>, opts) + '\n';
}

export function prettyRecord(rec: Record<string, unknown>, opts: PrettyOptions): string {
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const paint = (code: string, text: string): string => (opts.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const name = typeof rec.service === 'string' ? rec.service : typeof rec.component === 'string' ? rec.component : 'baton';
  const head = [
    paint('90', clock(rec.time)),
    paint(LEVEL_COLOR[level] ?? '0', (LEVELS[level] ?? String(level)).padEnd(5)),
    name.padEnd(NAME_WIDTH),
    typeof rec.msg === 'string' ? oneLine(rec.msg) : '',
  ].join(' ');
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(rec)) {
    if (OWN_COLUMNS.has(key) || value === undefined) continue;
    if (key === 'err' && isRecord(value)) {
      fields.push(`err=${quote(String(value.message ?? value.type ?? 'error'))}`);
      if (level >= 50 && typeof value.stack === 'string') stack = value.stack;
      continue;
    }
    if (key === 'app' && isRecord(value)) {
      for (const [k, v] of Object.entries(value)) if (!APP_NOISE.has(k)) fields.push(`app.${k}=${text(v)}`);
      continue;
    }
    fields.push(`${key}=${text(value)}`);
  }
  const line = fields.length === 0 ? head.trimEnd() : `${head}  ${paint('2', fields.join(' '))}`;
  return stack === undefined ? line : `${line}\n${indent(stack)}`;
}

function clock(time: unknown): string {
  const d = typeof time === 'number' ? new Date(time) : typeof time === 'string' ? new Date(time) : new Date(NaN);
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** Strings bare when they are one plain word, else JSON-quoted; everything else as JSON. */
function text(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value) ?? String(value);
}

function quote(s: string): string {
  return /^[^\s"=\\\x00-\x1f\x7f]+$/.test(s) ? s : JSON.stringify(s);
}

/** An app's message with control characters shown, so one record stays one line. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}

function indent(stack: string): string {
  return stack
    .split('\n')
    .map((l) => `    ${l.trimStart()}`)
    .join('\n');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
