import type { Logger } from 'pino';

/** Longest app line logged; the rest of a longer one is cut. */
export const MAX_LINE = 2000;

/**
 * One line an app wrote, into Baton's log with its stream. A line that is itself a JSON object
 * (an app logging with pino, bunyan, winston...) is passed through as the object `app`, with
 * its own message as the message, rather than as an escaped string.
 */
export function logAppLine(log: Logger, stream: 'stdout' | 'stderr', line: string): void {
  const app = jsonObject(line);
  const fields = app === undefined ? { stream } : { stream, app };
  const msg = app === undefined ? line : messageOf(app);
  if (stream === 'stderr') log.warn(fields, msg);
  else log.info(fields, msg);
}

/** The object a line holds, when the whole line is one JSON object. */
export function jsonObject(line: string): Record<string, unknown> | undefined {
  const t = line.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function messageOf(app: Record<string, unknown>): string {
  for (const key of ['msg', 'message']) if (typeof app[key] === 'string') return app[key];
  return 'app output';
}
