/**
 * `GET /v1/services/{name}/logs?n=100&follow=1`: the active instances' output as NDJSON, one
 * `LogRecord` a line. With `follow`, instances that become active later (a deploy) join the
 * stream with their recent lines, and the ones followed before stay until their output ends.
 */
import { BatonError } from '../errors.js';
import type { Instance, OutputLine } from '../runtime/runtime.js';

export interface LogRecord {
  version: string;
  /** pid or container id. */
  instance: string;
  stream: OutputLine['stream'];
  /** When the app wrote it, RFC 3339. */
  time: string;
  line: string;
}

export interface LogsQuery {
  /** Lines of each instance's recent output (`n`, default 100). */
  tail: number;
  follow: boolean;
}

export const DEFAULT_TAIL = 100;
export const MAX_TAIL = 10_000;
/** How often a follow looks for instances that became active (a deploy switched). */
const JOIN_POLL_MS = 250;

/** `n` and `follow` of the query string. */
export function parseLogsQuery(search: URLSearchParams): LogsQuery {
  const n = search.get('n');
  const tail = n === null ? DEFAULT_TAIL : /^\d{1,9}$/.test(n) ? Number(n) : NaN;
  if (!Number.isSafeInteger(tail) || tail > MAX_TAIL) throw new BatonError('BAD_REQUEST', `n: expected a number of lines from 0 to ${MAX_TAIL}, got ${JSON.stringify(n)}`);
  const f = search.get('follow');
  if (f !== null && !['', '0', '1', 'true', 'false'].includes(f)) throw new BatonError('BAD_REQUEST', `follow: expected 1 or 0, got ${JSON.stringify(f)}`);
  return { tail, follow: f === '' || f === '1' || f === 'true' };
}

/**
 * Pass the output of `active()`'s instances to `emit` until done: at once without `follow`;
 * with it, until `signal` aborts (the client left, Baton stops).
 */
export async function streamLogs(active: () => readonly Instance[], query: LogsQuery, signal: AbortSignal, emit: (r: LogRecord) => void): Promise<void> {
  const followed = new Set<string>();
  const running: Promise<void>[] = [];
  const began = Date.now();
  let first = true;
  const join = (): void => {
    let now: readonly Instance[];
    try {
      now = active();
    } catch {
      return; // the service is gone (a reload removed it): follow what was followed
    }
    for (const instance of now) {
      if (followed.has(instance.id)) continue;
      followed.add(instance.id);
      const toRecord = (l: OutputLine): void => emit({ version: instance.version, instance: instance.id, stream: l.stream, time: new Date(l.time).toISOString(), line: l.line });
      // One that becomes active later (a deploy) shows everything it wrote since the follow began.
      const from = first ? { tail: query.tail } : { tail: MAX_TAIL, since: began };
      running.push(instance.logs({ ...from, follow: query.follow, signal }, toRecord));
    }
    first = false;
  };
  join();
  if (!query.follow) {
    await Promise.all(running);
    return;
  }
  const timer = setInterval(join, JOIN_POLL_MS);
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  await Promise.all(running);
}
