/**
 * Baton's observability, wired (issue 16): the observer the proxy reports to (metrics, the
 * dashboard's series, the access log when on), the deploy history, and the live stream the
 * dashboard reads, ticked once a second.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { StatusBody } from '../control/protocol.js';
import type { Metrics } from '../metrics.js';
import { Observers } from './observers.js';
import { Series, type Gauges, type SeriesBody } from './series.js';
import { AccessLog } from './access-log.js';
import { History } from './history.js';
import { HistoryFile, historyFileOf } from './history-file.js';
import { LiveEvents, type LiveEvent } from './live.js';

export class Observability {
  readonly history: History;
  /** The one observer the proxy is given. */
  readonly observers: Observers;
  readonly #series = new Series();
  readonly #live = new LiveEvents();
  readonly #metrics: Metrics;
  readonly #log: Logger;
  #accessLog: AccessLog | undefined;
  #ticker: NodeJS.Timeout | undefined;

  constructor(opts: { config: Config; log: Logger; metrics: Metrics }) {
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.observers = new Observers([opts.metrics, this.#series]);
    this.history = new History({
      file: new HistoryFile(historyFileOf(opts.config.stateFile)),
      log: opts.log.child({ component: 'history' }),
      onChange: (entry) => this.#live.publish({ type: 'history', entry }),
    });
    this.configure(opts.config);
  }

  /** The access log as `config` says: created when first on, closed when turned off, reconfigured otherwise. */
  configure(config: Config): void {
    const want = config.accessLog;
    if (!want.enabled) {
      this.observers.set(undefined);
      void this.#accessLog?.close();
      return;
    }
    if (this.#accessLog === undefined) this.#accessLog = new AccessLog({ config: want, registry: this.#metrics.registry, log: this.#log.child({ component: 'access-log' }) });
    else this.#accessLog.reconfigure(want);
    this.observers.set(this.#accessLog);
  }

  /** Once a second: close the series' second and tell the dashboards what `status` says. */
  start(status: () => StatusBody): void {
    this.#ticker = setInterval(() => {
      const now = status();
      const gauges = new Map<string, Gauges>();
      for (const [name, s] of Object.entries(now.services)) gauges.set(name, { held: s.queued, websockets: s.websockets, inflight: s.inflight });
      const t = Date.now();
      const points = this.#series.tick(t, gauges);
      if (this.#live.subscribers > 0) this.#live.publish({ type: 'tick', t, status: now, points });
    }, 1000);
    this.#ticker.unref();
  }

  series(names: Iterable<string>): SeriesBody {
    return this.#series.body(names);
  }

  subscribe(listener: (e: LiveEvent) => void): () => void {
    return this.#live.subscribe(listener);
  }

  /** SIGUSR1: reopen the access log file (logrotate moved it). */
  reopen(): void {
    this.#accessLog?.reopen();
  }

  /** The last history records and access log lines written. */
  async close(): Promise<void> {
    clearInterval(this.#ticker);
    await this.history.flushed();
    await this.#accessLog?.close();
  }
}
