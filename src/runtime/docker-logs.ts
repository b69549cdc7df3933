/**
 * Following a container's output: the engine's multiplexed log stream, split back into
 * stdout and stderr (docker-modem's demuxer), then into lines that go to Baton's log (with
 * `stream`) and to the instance's ring of recent output (for failure reports).
 */

import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { messageOf } from './docker-engine.js';
import { logAppLine } from '../log/app-line.js';
import type { LogsOptions, OutputLine } from './runtime.js';

export interface FollowLogsOptions {
  container: Dockerode.Container;
  modem: Dockerode['modem'];
  /**
   * Adopted from an earlier Baton: only the last `tail` lines are fetched, for the ring, and
   * none written before now is logged again.
   */
  adopted: boolean;
  tail: number;
  /** Ends the stream (the instance was stopped or Baton is exiting). */
  signal: AbortSignal;
  log: Logger;
  /** Every line, in order. */
  onLine: (line: string) => void;
}

/** Resolves when the log stream has ended and its last line was passed to `onLine`. */
export async function followLogs(opts: FollowLogsOptions): Promise<void> {
  const loggedFrom = opts.adopted ? Date.now() : 0;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await opts.container.logs({
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      ...(opts.adopted ? { tail: opts.tail } : {}),
      abortSignal: opts.signal,
    });
  } catch (err) {
    if (!opts.signal.aborted) opts.log.warn({ err: messageOf(err) }, 'container logs unavailable');
    return;
  }
  // A container left running must not keep Baton's process alive once it closed everything else.
  (stream as Partial<IncomingMessage>).socket?.unref();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const ended = Promise.all([splitLines(stdout, 'stdout', loggedFrom, opts), splitLines(stderr, 'stderr', loggedFrom, opts)]);
  opts.modem.demuxStream(stream, stdout, stderr);
  let finished = false;
  const streamOnEnd = (): void => {
    if (finished) return;
    finished = true;
    stdout.end();
    stderr.end();
  };
  stream.once('end', streamOnEnd);
  stream.once('close', streamOnEnd);
  // Kept for the stream's life: a late socket error must not become an uncaught exception.
  stream.on('error', streamOnEnd);
  await ended;
}

/** Feeds `source` line by line to `onLine` and the log; resolves at its end. */
function splitLines(source: PassThrough, name: 'stdout' | 'stderr', loggedFrom: number, opts: FollowLogsOptions): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const emit = (raw: string): void => {
    const { at, line } = stripTimestamp(raw.replace(/\r$/, ''));
    opts.onLine(line);
    if (at >= loggedFrom) logAppLine(opts.log, name, line);
  };
  source.on('data', (chunk: Buffer) => {
    const lines = (partial + decoder.write(chunk)).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) emit(line);
  });
  return new Promise((resolve) => {
    source.once('end', () => {
      const rest = partial + decoder.end();
      if (rest !== '') emit(rest);
      resolve();
    });
  });
}

/**
 * `baton logs`: the container's last `tail` lines from the engine's log, then with `follow`
 * each new one, until the container stops or `signal` aborts. Never rejects.
 */
export async function readLogs(container: Dockerode.Container, modem: Dockerode['modem'], opts: LogsOptions, onLine: (line: OutputLine) => void): Promise<void> {
  let source: NodeJS.ReadableStream;
  try {
    // Without follow the engine's answer is one buffer of multiplexed frames.
    const since = opts.since === undefined ? {} : { since: (opts.since / 1000).toFixed(3) as unknown as number };
    const got: unknown = await container.logs({ follow: opts.follow as true, stdout: true, stderr: true, timestamps: true, tail: opts.tail, ...since, abortSignal: opts.signal });
    source = Buffer.isBuffer(got) ? Readable.from([got]) : (got as NodeJS.ReadableStream);
  } catch {
    return;
  }
  (source as Partial<IncomingMessage>).socket?.unref();
  const ended: Promise<void>[] = [];
  const split = (stream: OutputLine['stream']): PassThrough => {
    const out = new PassThrough();
    ended.push(new Promise((resolve) => out.once('end', resolve)));
    const decoder = new StringDecoder('utf8');
    let partial = '';
    const emit = (raw: string): void => {
      const { at, line } = stripTimestamp(raw.replace(/\r$/, ''));
      onLine({ stream, line, time: Number.isFinite(at) ? at : Date.now() });
    };
    out.on('data', (chunk: Buffer) => {
      const lines = (partial + decoder.write(chunk)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) emit(line);
    });
    out.once('end', () => {
      const rest = partial + decoder.end();
      if (rest !== '') emit(rest);
    });
    return out;
  };
  const stdout = split('stdout');
  const stderr = split('stderr');
  modem.demuxStream(source, stdout, stderr);
  let finished = false;
  const sourceOnEnd = (): void => {
    if (finished) return;
    finished = true;
    stdout.end();
    stderr.end();
  };
  source.once('end', sourceOnEnd);
  source.once('close', sourceOnEnd);
  // Kept for the stream's life: a late socket error must not become an uncaught exception.
  source.on('error', sourceOnEnd);
  // Resolves once the last partial line of each stream went to onLine.
  await Promise.all(ended);
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) /;

/** `timestamps: true` prefixes each line with its RFC 3339 time: when it was written, for `loggedFrom`. */
function stripTimestamp(raw: string): { at: number; line: string } {
  const match = TIMESTAMP.exec(raw);
  if (!match?.[1]) return { at: Number.POSITIVE_INFINITY, line: raw };
  return { at: Date.parse(match[1]), line: raw.slice(match[0].length) };
}
