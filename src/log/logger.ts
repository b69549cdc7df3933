/**
 * Baton's own logger: pino, writing JSON lines (for machines: `docker logs`, journald, a log
 * shipper) or compact human lines (for a terminal) to stderr.
 */
import pino, { type Logger } from 'pino';
import { prettyLine } from './pretty.js';

export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * `--log-format`, else `BATON_LOG_FORMAT`, else pretty when the log goes to a terminal.
 * @returns the format, or an error message naming the bad value.
 */
export function chooseLogFormat(flag: string | undefined, env: string | undefined, tty: boolean): LogFormat | { error: string } {
  const given = flag ?? (env === '' ? undefined : env);
  if (given === undefined) return tty ? 'pretty' : 'json';
  if (given === 'json' || given === 'pretty') return given;
  return { error: `${flag !== undefined ? '--log-format' : 'BATON_LOG_FORMAT'}: expected json or pretty, got "${given}"` };
}

export interface LoggerOptions {
  level: string;
  format: LogFormat;
  /** Where lines go; Baton passes its LogOutput (stderr, or what `baton upgrade` handed it). */
  out: { write(line: string): unknown };
  /** ANSI colours in the pretty format. */
  color: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  const base = { base: { pid: process.pid }, level: opts.level };
  if (opts.format === 'json') {
    const fd = fdOf(opts.out);
    return fd === undefined ? pino(base, opts.out as pino.DestinationStream) : pino(base, pino.destination({ dest: fd, sync: true }));
  }
  // One write per record: pino hands a whole JSON line to write().
  const out = opts.out;
  const color = opts.color;
  return pino(base, { write: (line: string) => void out.write(prettyLine(line.trimEnd(), { color })) });
}

function fdOf(stream: object): number | undefined {
  const fd = (stream as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : undefined;
}
