/**
 * The access log (issue 16): one JSON line per request, and per WebSocket or upgrade when it
 * ends (access-line.ts), written to stdout or a file through pino's asynchronous destination
 * (`pino.destination({ sync: false })`, sonic-boom). Writing never blocks the data path: lines
 * are batched (100 ms or 32 KiB) and the destination writes them off the event loop; past
 * `buffer` bytes waiting for a slow disk, new lines are dropped and counted
 * (`baton_access_log_dropped_total`) rather than held in memory or slowing requests. A file is
 * reopened on SIGUSR1 (logrotate's `postrotate`): lines written meanwhile wait in the buffer,
 * none is lost.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { accessLine, LineClock, type AccessFields } from './access-line.js';
import { Counter, type Registry } from 'prom-client';
import type { AccessLogConfig } from '../config/types.js';
import type { ExchangeRecord } from '../proxy/exchange-state.js';
import type { UpgradeRecord } from '../proxy/upgrades.js';
import type { Downstream } from '../proxy/downstream.js';
import { fieldValue } from '../proxy/headers.js';
import { tlsVersionOf } from '../proxy/tls-version.js';
import type { Duplex } from 'node:stream';

/** What sonic-boom is beyond pino's DestinationStream type. */
interface Destination extends DestinationStream {
  on(event: 'drop', listener: (data: string) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'ready' | 'close' | 'finish', listener: () => void): this;
  reopen(file?: string): void;
  flush(cb?: (err?: Error) => void): void;
  end(): void;
}

export interface AccessLogOptions {
  config: AccessLogConfig;
  /** Where the dropped-lines counter is registered (Baton's metrics registry). */
  registry: Registry;
  /** Baton's own log, for the access log's troubles (an unwritable file). */
  log: Logger;
  /** For sampling; Math.random by default. */
  random?: () => number;
}

/** Lines wait at most this long for their batch... */
const FLUSH_MS = 100;
/** ...or until the batch is this long. */
const BATCH_BYTES = 32 * 1024;

export class AccessLog {
  #config: AccessLogConfig;
  #dest: Destination;
  readonly #clock = new LineClock();
  readonly #log: Logger;
  readonly #random: () => number;
  // Plain numbers, read when scraped: a labelled prom-client inc() per line would cost more than the line.
  #lines = 0;
  #drops = 0;
  /** close() ran (Baton stopping, or a reload turned the log off): a reconfigure opens it again. */
  #closed = false;
  /** Lines not yet handed to the destination (the batch being gathered). */
  #pending: string[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: AccessLogOptions) {
    this.#config = opts.config;
    this.#log = opts.log;
    this.#random = opts.random ?? Math.random;
    const registers = [opts.registry];
    const self = this;
    new Counter({
      name: 'baton_access_log_dropped_total',
      help: 'Access log lines dropped because the destination was too slow (its buffer was full).',
      registers,
      collect() {
        this.reset();
        this.inc(self.#drops);
      },
    });
    new Counter({
      name: 'baton_access_log_lines_total',
      help: 'Access log lines handed to the destination (dropped ones included).',
      registers,
      collect() {
        this.reset();
        this.inc(self.#lines);
      },
    });
    this.#dest = this.#open(opts.config);
  }

  get config(): AccessLogConfig {
    return this.#config;
  }

  requestFinished(x: ExchangeRecord): void {
    const outcome = x.outcome ?? 'ok';
    if (!this.#sampled(x.status, outcome)) return;
    const d = x.downstream;
    const u = x.upstream;
    this.#write({
      kind: 'http',
      service: x.service,
      host: d.authority ?? null,
      method: x.method,
      path: this.#path(d.path),
      status: x.status,
      bytes_in: x.bytesIn,
      bytes_out: x.bytesOut,
      duration_ms: x.durationMs,
      ttfb_ms: x.firstByteMs < 0 ? null : x.firstByteMs,
      version: u?.version ?? null,
      upstream: u?.address ?? null,
      request_id: x.requestId,
      client: x.clientAddress,
      user_agent: fieldValue(d.headers, 'user-agent') ?? null,
      protocol: d.protocol,
      tls: tlsOf(d),
      held_ms: x.heldMs,
      attempts: x.attempts,
      outcome,
      traceparent: x.traceparent ?? null,
    });
  }

  upgradeFinished(w: UpgradeRecord): void {
    if (!this.#sampled(w.status === 101 ? 200 : w.status, w.outcome === 'refused' ? 'ok' : w.outcome)) return;
    this.#write({
      kind: 'websocket',
      service: w.service,
      host: w.host ?? null,
      method: w.method,
      path: this.#path(w.path),
      status: w.status,
      bytes_in: w.bytesIn,
      bytes_out: w.bytesOut,
      duration_ms: w.durationMs,
      ttfb_ms: null,
      version: w.upstream?.version ?? null,
      upstream: w.upstream?.address ?? null,
      request_id: w.requestId,
      client: w.clientAddress,
      user_agent: w.userAgent ?? null,
      protocol: 'http/1.1',
      tls: w.secure ? (w.tlsVersion ?? 'tls') : null,
      held_ms: w.heldMs,
      attempts: w.upstream === undefined ? 0 : 1,
      outcome: w.outcome,
      traceparent: w.traceparent ?? null,
    });
  }

  /** A request answered before it reached a service: no route, too many header fields, too large. */
  refused(d: Downstream, status: number, kind: string, requestId: string): void {
    this.#write({
      kind: 'http',
      service: null,
      host: d.authority ?? null,
      method: d.method,
      path: this.#path(d.path),
      status,
      bytes_in: 0,
      bytes_out: 0,
      duration_ms: 0,
      ttfb_ms: null,
      version: null,
      upstream: null,
      request_id: requestId,
      client: d.remoteAddress,
      user_agent: fieldValue(d.headers, 'user-agent') ?? null,
      protocol: d.protocol,
      tls: tlsOf(d),
      held_ms: 0,
      attempts: 0,
      outcome: `baton:${kind}`,
      traceparent: null,
    });
  }

  /** Bytes refused on a connection before they were a request (a malformed or too slow head, CONNECT): what is known of them. */
  rejected(socket: Duplex, secure: boolean, status: number): void {
    this.#write({
      kind: 'http',
      service: null,
      host: null,
      method: null,
      path: null,
      status,
      bytes_in: 0,
      bytes_out: 0,
      duration_ms: 0,
      ttfb_ms: null,
      version: null,
      upstream: null,
      request_id: null,
      client: (socket as Duplex & { remoteAddress?: string }).remoteAddress ?? '',
      user_agent: null,
      protocol: null,
      tls: secure ? (tlsVersionOf(socket) ?? 'tls') : null,
      held_ms: 0,
      attempts: 0,
      outcome: 'baton:rejected',
      traceparent: null,
    });
  }

  /** Reopen the file (logrotate moved it away): pending and new lines go to the new file. */
  reopen(): void {
    if (this.#config.path === 'stdout' || this.#closed) return;
    try {
      this.#flush();
      this.#dest.reopen();
      this.#log.info({ path: this.#config.path }, 'access log reopened');
    } catch (err) {
      this.#log.error({ err: (err as Error).message, path: this.#config.path }, 'access log not reopened');
    }
  }

  /**
   * New settings (a reload): sample and include_query at once; another path opens the new
   * destination and lets the old one finish its lines in the background.
   */
  reconfigure(config: AccessLogConfig): void {
    const old = this.#config;
    this.#config = config;
    const wasClosed = this.#closed;
    if (!wasClosed && config.path === old.path && config.bufferBytes === old.bufferBytes) return;
    this.#flush();
    this.#closed = false;
    const previous = this.#dest;
    this.#dest = this.#open(config);
    if (!wasClosed) void endDestination(previous, 5_000, old.path === 'stdout');
  }

  /** Write what is buffered (waiting at most `timeoutMs` for a slow disk), then close. */
  close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flush();
    this.#closed = true;
    return endDestination(this.#dest, timeoutMs, this.#config.path === 'stdout');
  }

  #sampled(status: number, outcome: string): boolean {
    const sample = this.#config.sample;
    // Errors are always logged: a sample is for the volume of successful traffic.
    if (sample >= 1 || status >= 500 || (outcome !== 'ok' && outcome !== 'retried')) return true;
    return sample > 0 && this.#random() < sample;
  }

  #path(path: string): string {
    if (this.#config.includeQuery) return path;
    const q = path.indexOf('?');
    return q === -1 ? path : path.slice(0, q);
  }

  #open(config: AccessLogConfig): Destination {
    const toFile = config.path !== 'stdout';
    const dest = pino.destination({
      dest: toFile ? config.path : 1,
      sync: false,
      // A batch is written as soon as no write is under way (batching is done here, not there).
      minLength: 0,
      maxLength: config.bufferBytes,
      ...(toFile ? { mkdir: true } : {}),
    }) as unknown as Destination;
    const path = config.path;
    dest.on('drop', (data: string) => {
      if (this.#drops === 0) this.#log.warn({ path, buffer: config.bufferBytes }, 'access log lines dropped: the destination is too slow');
      // A batch of whole lines was dropped.
      for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) this.#drops++;
    });
    dest.on('error', (err: Error) => this.#log.error({ err: err.message, path }, 'access log write failed'));
    return dest;
  }

  /**
   * Lines are handed to the destination in batches, every FLUSH_MS or BATCH_BYTES, whichever
   * comes first (nginx's `access_log ... buffer= flush=`): a write (a system call, a trip to
   * libuv's thread pool) per line, or per event-loop turn, cost more than the line itself.
   */
  #write(fields: AccessFields): void {
    if (this.#closed) return;
    this.#lines++;
    const line = accessLine(this.#clock.iso(Date.now()), fields);
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (this.#pendingBytes >= BATCH_BYTES) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#flushSoon, FLUSH_MS);
      this.#timer.unref();
    }
  }

  #flushSoon = (): void => {
    this.#timer = undefined;
    this.#flush();
  };

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0 || this.#closed) return;
    const batch = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#dest.write(batch);
  }
}

/** The TLS version, `"tls"` if the socket would not say, null over plain HTTP. */
function tlsOf(d: Downstream): string | null {
  if (!d.secure) return null;
  return d.tlsVersion ?? 'tls';
}

/** Flush and close a destination; stdout is flushed, never closed. */
function endDestination(dest: Destination, timeoutMs: number, stdout: boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    try {
      if (stdout) dest.flush(() => done());
      else {
        dest.once('close', done);
        dest.end();
      }
    } catch {
      done();
    }
  });
}
