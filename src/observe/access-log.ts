/**
 * The access log (issue 16): one JSON line per request, and per WebSocket or upgrade when it
 * ends (access-line.ts), written to stdout or a file by a LineWriter (line-writer.ts): each
 * line written as bytes into a reused buffer (access-line-bytes.ts), batches (32 KiB or 100 ms) handed to `fs.write` off the
 * event loop. Writing never blocks the data path: past `buffer` bytes waiting for a slow disk,
 * new lines are dropped and counted (`baton_access_log_dropped_total`) rather than held in
 * memory or slowing requests. A file is reopened on SIGUSR1 (logrotate's `postrotate`): lines
 * written meanwhile wait in the buffer, none is lost.
 */
import type { Logger } from 'pino';
import { LineClock, type AccessFields } from './access-line.js';
import { maxLineBytes, writeAccessLine } from './access-line-bytes.js';
import { LineWriter, type WriterEvent } from './line-writer.js';
import { Counter, type Registry } from 'prom-client';
import type { AccessLogConfig } from '../config/types.js';
import type { ExchangeRecord } from '../proxy/exchange-state.js';
import type { UpgradeRecord } from '../proxy/upgrades.js';
import type { Downstream } from '../proxy/downstream.js';
import { fieldValue } from '../proxy/headers.js';
import { tlsVersionOf } from '../proxy/tls-version.js';
import type { Duplex } from 'node:stream';

export interface AccessLogOptions {
  config: AccessLogConfig;
  /** Where the dropped-lines counter is registered (Baton's metrics registry). */
  registry: Registry;
  /** Baton's own log, for the access log's troubles (an unwritable file). */
  log: Logger;
  /** For sampling; Math.random by default. */
  random?: () => number;
}

export class AccessLog {
  #config: AccessLogConfig;
  #writer: LineWriter;
  readonly #clock = new LineClock();
  /** The record requestFinished fills for each line; written into the buffer at once, never kept. */
  readonly #fields: AccessFields = emptyFields();
  readonly #log: Logger;
  readonly #random: () => number;
  // Plain numbers, read when scraped: a labelled prom-client inc() per line would cost more than the line.
  #lines = 0;
  #drops = 0;
  /** close() ran (Baton stopping, or a reload turned the log off): a reconfigure opens it again. */
  #closed = false;

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
    this.#writer = this.#open(opts.config);
  }

  get config(): AccessLogConfig {
    return this.#config;
  }

  requestFinished(x: ExchangeRecord): void {
    const outcome = x.outcome ?? 'ok';
    if (!this.#sampled(x.status, outcome)) return;
    const d = x.downstream;
    const u = x.upstream;
    // Every request's line goes through the one record, filled in place: no object per request.
    const f = this.#fields;
    f.kind = 'http';
    f.service = x.service;
    f.host = d.authority ?? null;
    f.method = x.method;
    f.path = this.#path(d.path);
    f.status = x.status;
    f.bytes_in = x.bytesIn;
    f.bytes_out = x.bytesOut;
    f.duration_ms = x.durationMs;
    f.ttfb_ms = x.firstByteMs < 0 ? null : x.firstByteMs;
    f.version = u?.version ?? null;
    f.upstream = u?.address ?? null;
    f.request_id = x.requestId;
    f.client = x.clientAddress;
    f.user_agent = fieldValue(d.headers, 'user-agent') ?? null;
    f.protocol = d.protocol;
    f.tls = tlsOf(d);
    f.held_ms = x.heldMs;
    f.attempts = x.attempts;
    f.outcome = outcome;
    f.traceparent = x.traceparent ?? null;
    this.#write(f);
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
    const f = emptyFields();
    f.host = d.authority ?? null;
    f.method = d.method;
    f.path = this.#path(d.path);
    f.status = status;
    f.request_id = requestId;
    f.client = d.remoteAddress;
    f.user_agent = fieldValue(d.headers, 'user-agent') ?? null;
    f.protocol = d.protocol;
    f.tls = tlsOf(d);
    f.outcome = `baton:${kind}`;
    this.#write(f);
  }

  /** Bytes refused on a connection before they were a request (a malformed or too slow head, CONNECT): what is known of them. */
  rejected(socket: Duplex, secure: boolean, status: number): void {
    const f = emptyFields();
    f.status = status;
    f.client = (socket as Duplex & { remoteAddress?: string }).remoteAddress ?? '';
    f.tls = secure ? (tlsVersionOf(socket) ?? 'tls') : null;
    f.outcome = 'baton:rejected';
    this.#write(f);
  }

  /** Reopen the file (logrotate moved it away): gathered and new lines go to the new file. */
  reopen(): void {
    if (this.#config.path === 'stdout' || this.#closed) return;
    this.#writer.reopen();
  }

  /**
   * New settings (a reload): sample and include_query at once; another path opens the new
   * file and lets the old one finish its lines in the background.
   */
  reconfigure(config: AccessLogConfig): void {
    const old = this.#config;
    this.#config = config;
    const wasClosed = this.#closed;
    if (!wasClosed && config.path === old.path && config.bufferBytes === old.bufferBytes) return;
    this.#closed = false;
    const previous = this.#writer;
    this.#writer = this.#open(config);
    if (!wasClosed) void previous.close(5_000);
  }

  /** Write what is gathered (waiting at most `timeoutMs` for a slow disk), then close. */
  close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return this.#writer.close(timeoutMs);
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

  #open(config: AccessLogConfig): LineWriter {
    const path = config.path;
    return new LineWriter({ path, limitBytes: config.bufferBytes, report: (e) => this.#reported(e, config) });
  }

  #reported(e: WriterEvent, config: AccessLogConfig): void {
    const path = config.path;
    switch (e.kind) {
      case 'dropped':
        if (this.#drops === 0) this.#log.warn({ path, buffer: config.bufferBytes, reason: e.reason }, e.reason === 'full' ? 'access log lines dropped: the destination is too slow' : 'access log lines dropped');
        this.#drops += e.lines;
        return;
      case 'failed':
        this.#log.error({ err: e.err.message, path }, e.op === 'open' ? 'access log not opened' : 'access log write failed');
        return;
      case 'reopened':
        this.#log.info({ path }, 'access log reopened');
        return;
    }
  }

  #write(fields: AccessFields): void {
    if (this.#closed) return;
    this.#lines++;
    const w = this.#writer;
    if (w.reserve(maxLineBytes(fields))) w.commit(writeAccessLine(w.buffer, w.used, this.#clock.iso(Date.now()), fields));
  }
}

/** The TLS version, `"tls"` if the socket would not say, null over plain HTTP. */
function tlsOf(d: Downstream): string | null {
  if (!d.secure) return null;
  return d.tlsVersion ?? 'tls';
}

function emptyFields(): AccessFields {
  return {
    kind: 'http',
    service: null,
    host: null,
    method: null,
    path: null,
    status: 0,
    bytes_in: 0,
    bytes_out: 0,
    duration_ms: 0,
    ttfb_ms: null,
    version: null,
    upstream: null,
    request_id: null,
    client: '',
    user_agent: null,
    protocol: null,
    tls: null,
    held_ms: 0,
    attempts: 0,
    outcome: 'ok',
    traceparent: null,
  };
}
