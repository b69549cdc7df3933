import type { Logger } from 'pino';
import type { Config, ServiceConfig } from './config/types.js';
import type { Instance, Runtime, SavedInstance } from './runtime/runtime.js';
import type { Release } from './upstream/release.js';
import { Service, type Supervision, type SwapKind } from './service.js';
import { ProxyServer } from './proxy/server.js';
import { NoticeHub } from './notify/hub.js';
import { ControlServer } from './control/server.js';
import { readTokens } from './control/token.js';
import type { ControlApi, HistoryQuery, MaintenanceReply, NotifyReply, PauseReply, ResumeReply, StatusBody } from './control/protocol.js';
import { readFile } from 'node:fs/promises';
import { endCanary, promote, startCanary, swap, type DoneEvent, type SwapDeps, type SwapEvent } from './swap/swap.js';
import { StateStore, type SavedState } from './state/store.js';
import { applyReload, type ReloadReport, type ReloadTarget } from './reload.js';
import { loadConfig } from './config/load.js';
import { bringUp, listenError } from './bring-up.js';
import { waitHealthy, probe } from './upstream/health.js';
import { Metrics } from './metrics.js';
import { BatonError } from './errors.js';
import { validateVersion } from './config/schema.js';
import { diffConfig } from './config/diff.js';
import { stopLeftoverApps } from './runtime/leftovers.js';
import type { LogOutput } from './log/output.js';
import { upgrade, type UpgradeDone, type UpgradeEvent, type UpgradeHost } from './upgrade/handover.js';
import type { ListenerName } from './upgrade/protocol.js';
import { TlsEdge } from './tls/edge.js';
// Observability (issue 16): the access log, the deploy history, the dashboard's series and stream.
import { Observers } from './observe/observers.js';
import { Series, type Gauges } from './observe/series.js';
import { AccessLog } from './observe/access-log.js';
import { History, type Caller, type HistoryBody } from './observe/history.js';
import { HistoryFile, historyFileOf } from './observe/history-file.js';
import { LiveEvents, type LiveEvent } from './observe/live.js';
import type { SeriesBody } from './observe/series.js';

/** Who asked, when the control server does not say: the control socket. */
const SOCKET: Caller = { via: 'socket' };

export interface BatonOptions {
  config: Config;
  log: Logger;
  /** Builds the runtime of a service (process or Docker). */
  makeRuntime: (service: ServiceConfig, log: Logger) => Promise<Runtime>;
  /** Grace between SIGTERM (docker stop) and the forceful kill of an old version. */
  stopGraceMs?: number;
  version?: string;
  /** How `baton upgrade` starts the next Baton, and where this one logs; without it, upgrade is refused. */
  upgrade?: { command: UpgradeHost['command']; output: LogOutput; readyTimeoutMs?: number };
}

/** Started by `baton upgrade`: adopt what runs (start nothing), then accept on the predecessor's sockets. */
export interface Takeover {
  listeners: Partial<Record<ListenerName, number>>;
  /** The predecessor's TLS session ticket keys: its clients' sessions resume here. */
  ticketKeys?: Buffer;
  /** Every instance is adopted and healthy; may refuse (then start() rejects). */
  adopted(services: Record<string, { version: string; instances: number; canary?: string }>): Promise<void>;
}

/** What the state file keeps of a release's process-runtime instances. */
function descriptors(release: Release): SavedInstance[] {
  return release.upstreams.flatMap((u) => (u.instance.descriptor === undefined || u.instance.exitInfo !== undefined ? [] : [u.instance.descriptor()]));
}

/** The service's own maintenance page, if `maintenance.page` names one (unreadable: refused, naming the file). */
async function readMaintenancePage(service: Service): Promise<string | undefined> {
  const file = service.config.maintenance.page;
  if (file === undefined) return undefined;
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new BatonError('CONFIG_UNREADABLE', `services.${service.name}.maintenance.page: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function upgradeRunning(): BatonError {
  return new BatonError('UPGRADE_IN_PROGRESS', 'Baton is upgrading itself: try again when `baton upgrade` is done');
}

/** Baton's own version, shown in status. */
const BATON_VERSION = '0.1.0';

/**
 * One running proxy: services, the public listener, the control socket and the state file,
 * wired together. Owns their lifecycles; holds no logic of its own beyond startup order.
 */
export class Baton implements ControlApi {
  readonly #opts: BatonOptions;
  readonly #log: Logger;
  readonly #services = new Map<string, Service>();
  readonly #hub: NoticeHub;
  readonly #metrics: Metrics;
  readonly #state: StateStore;
  readonly #stopping = new AbortController();
  readonly #swaps = new Set<Promise<unknown>>();
  #proxy: ProxyServer | undefined;
  /** The TLS listener and its certificates (issue 11), when the config has `tls`. */
  #tls: TlsEdge | undefined;
  /** The config now applied (a reload replaces it). */
  #config: Config;
  #reloading: Promise<ReloadReport> | undefined;
  readonly #retiring = new Set<Promise<void>>();
  #control: ControlServer | undefined;
  #listen = '';
  #startedAt = Date.now();
  #upgrading: Promise<UpgradeDone> | undefined;
  /** Set once a successor is Baton: this process decides nothing more (no state write). */
  #handedOver = false;
  #exitAfterHandover!: () => void;
  /** Resolves when this process has handed over to a successor and finished: it may exit, leaving the apps running. */
  readonly handedOver = new Promise<void>((resolve) => (this.#exitAfterHandover = resolve));
  // --- observability (issue 16) ---
  readonly #series = new Series();
  readonly #observers: Observers;
  #accessLog: AccessLog | undefined;
  readonly #history: History;
  readonly #live = new LiveEvents();
  #ticker: NodeJS.Timeout | undefined;
  // --- end observability ---

  constructor(opts: BatonOptions) {
    this.#opts = opts;
    this.#config = opts.config;
    this.#log = opts.log;
    this.#hub = new NoticeHub({ log: opts.log.child({ component: 'notify' }), maxPerAddress: opts.config.limits.noticeSocketsPerClient });
    this.#metrics = new Metrics(() => [...this.#services.values()]);
    this.#state = new StateStore(opts.config.stateFile);
    this.#observers = new Observers([this.#metrics, this.#series]);
    this.#history = new History({
      file: new HistoryFile(historyFileOf(opts.config.stateFile)),
      log: opts.log.child({ component: 'history' }),
      onChange: (entry) => this.#live.publish({ type: 'history', entry }),
    });
    this.#configureAccessLog(opts.config);
  }

  /** Where the public listener is bound (after start). */
  get listenAddress(): string {
    return this.#listen;
  }

  /**
   * Bring every service up (adopting what already runs), then open the public listener and
   * the control socket. Resolves when all services are healthy and both listen.
   */
  async start(takeover?: Takeover): Promise<void> {
    const config = this.#config;
    this.#control = new ControlServer({
      path: config.control.socket,
      api: this,
      log: this.#log.child({ component: 'control' }),
      ...(config.control.tcp === undefined ? {} : { tcp: { listen: config.control.tcp.listen, tokens: await readTokens(config.control.tcp.tokenFile) } }),
    });
    // A successor's socket is live: its predecessor answers there.
    if (takeover === undefined) await this.#control.check();
    await this.#history.load();
    const saved = await this.#state.read();
    if (takeover === undefined) {
      // A crash left apps of services since removed from the config: nothing will adopt them.
      void stopLeftoverApps(saved, new Set(Object.keys(config.services)), this.#stopGrace(), this.#log).catch((err: unknown) => this.#log.warn({ err }, 'leftover apps not stopped'));
    }
    // Certificates are read (and a bad one refused, naming its file) before anything starts.
    if (config.tls !== undefined) this.#tls = await TlsEdge.create(config, this.#log.child({ component: 'tls' }));
    if (takeover?.ticketKeys !== undefined) this.#tls?.setTicketKeys(takeover.ticketKeys);
    for (const sc of Object.values(config.services)) this.#services.set(sc.name, await this.#makeService(sc));
    this.#proxy = new ProxyServer({
      listen: config.listen,
      services: [...this.#services.values()],
      limits: config.limits,
      trustedProxies: config.trustedProxies,
      hub: this.#hub,
      log: this.#log.child({ component: 'proxy' }),
      observer: this.#observers,
      traceparent: config.traceparent,
      ...(this.#tls === undefined ? {} : { tls: this.#tls }),
    });
    // The listener is bound before any app starts (a taken port fails fast, naming it); until a
    // service is up, its requests wait at its gate as in a swap's hold. A successor accepts only
    // once everything is adopted: until then its predecessor serves.
    if (takeover === undefined) await this.#listenPublic();
    for (const s of this.#services.values()) s.gate.hold('swap');
    try {
      // Services come up in parallel; Baton is ready only when all are.
      await Promise.all(
        [...this.#services.values()].map(async (s) => {
          const remembered = saved.services[s.name];
          await bringUp(s, remembered, this.#swapDeps(), { adoptOnly: takeover !== undefined });
          if (remembered?.maintenance !== undefined) s.setMaintenance({ ...remembered.maintenance, page: await readMaintenancePage(s) });
        }),
      );
      if (takeover !== undefined) {
        await takeover.adopted(this.#adoptedSummary());
        await this.#listenPublic(takeover.listeners.public, takeover.listeners.tls);
      }
    } finally {
      for (const s of this.#services.values()) s.gate.release('swap');
    }
    await this.#control.listen(takeover === undefined ? {} : { control: takeover.listeners.control, tcp: takeover.listeners['control-tcp'] });
    this.#ticker = setInterval(() => this.#tick(), 1000);
    this.#ticker.unref();
    if (takeover === undefined) await this.#persist();
    this.#log.info({ listen: this.#listen, control: config.control.socket, services: [...this.#services.keys()], takeover: takeover !== undefined }, takeover === undefined ? 'baton started' : 'baton ready to take over');
  }

  /** The public listener, then the TLS one (bound, or `fd`s handed over by a predecessor). */
  async #listenPublic(fd?: number, tlsFd?: number): Promise<void> {
    const config = this.#config;
    const bound = await this.#proxy!.listen(fd).catch((err: NodeJS.ErrnoException) => {
      throw listenError(err, 'listen', config.listen);
    });
    if (this.#tls !== undefined) {
      const tlsBound = await this.#proxy!.listenTls(tlsFd === undefined ? undefined : { fd: tlsFd }).catch((err: NodeJS.ErrnoException) => {
        throw listenError(err, 'tls.listen', config.tls!.listen);
      });
      this.#tls.started(bound);
      this.#log.info({ listen: this.#tls.status().listen, port: tlsBound?.port }, 'tls listener started');
    }
    this.#listen = bound.host.includes(':') ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`;
  }

  /** A successor let go by its predecessor: its history file now holds the predecessor's last record (the upgrade). */
  rereadHistory(): Promise<void> {
    return this.#history.reread();
  }

  /** A successor's predecessor is gone: this process is Baton now (it writes the state file from here on). */
  async takeCharge(): Promise<void> {
    await this.#persist();
    this.#log.info({ pid: process.pid }, 'baton in charge');
  }

  /**
   * A successor that cannot take over: close its copies of the sockets (the socket file stays,
   * its predecessor's) and let go of the apps it adopted, stopping none.
   */
  async abandon(): Promise<void> {
    this.#handedOver = true;
    for (const s of this.#services.values()) s.shutdown();
    this.#control?.handOver();
    void this.#proxy?.stopAccepting();
    this.#proxy?.closeAll();
    for (const s of this.#services.values()) {
      for (const u of s.upstreams()) u.close();
      s.runtime.close?.();
    }
  }

  #adoptedSummary(): Record<string, { version: string; instances: number; canary?: string }> {
    const out: Record<string, { version: string; instances: number; canary?: string }> = {};
    for (const [name, s] of this.#services) {
      const canary = s.canary?.release.version;
      out[name] = { version: s.active?.version ?? '', instances: s.upstreams().length, ...(canary === undefined ? {} : { canary }) };
    }
    return out;
  }

  /**
   * Stop accepting, release held requests to whatever is active, let in-flight requests end
   * (up to the longest drain timeout), stop the processes Baton started, remove the socket.
   * Containers are left running, to be adopted by the next start.
   */
  async stop(): Promise<void> {
    this.#log.info('baton stopping');
    const proxy = this.#proxy;
    const closing = proxy?.stopAccepting();
    for (const s of this.#services.values()) s.shutdown();
    this.#hub.close();
    const tlsStopped = this.#tls?.stop();
    const drainMs = Math.max(0, ...[...this.#services.values()].map((s) => s.config.drain.timeoutMs));
    const deadline = AbortSignal.timeout(drainMs);
    await Promise.all([...this.#services.values()].flatMap((s) => s.releases().map((r) => r.drain({ timeoutMs: drainMs, websocketGraceMs: 0, signal: deadline }))));
    // Swaps in progress end their drains early; wait for them so no state write is cut.
    this.#stopping.abort();
    await Promise.allSettled([...this.#swaps, ...this.#retiring]);
    proxy?.closeAll();
    await closing;
    await tlsStopped;
    clearInterval(this.#ticker);
    await this.#control?.close();
    await Promise.all(
      [...this.#services.values()].flatMap((s) =>
        s.upstreams().map(async (u) => {
          u.close();
          if (!u.instance.survivesBaton) await u.instance.stop(this.#stopGrace());
        }),
      ),
    );
    for (const s of this.#services.values()) s.runtime.close?.();
    await this.#history.flushed();
    await this.#accessLog?.close();
    this.#log.info('baton stopped');
  }

  // --- ControlApi -----------------------------------------------------------------------

  status(): StatusBody {
    const services: StatusBody['services'] = {};
    for (const [name, s] of this.#services) services[name] = s.status();
    return {
      services,
      baton: { version: BATON_VERSION, pid: process.pid, started_at: new Date(this.#startedAt).toISOString(), listen: this.#listen, uptime_s: Math.round((Date.now() - this.#startedAt) / 1000) },
      ...(this.#tls === undefined ? {} : { tls: this.#tls.status() }),
    };
  }

  deploy(name: string, version: string, emit: (e: SwapEvent) => void, opts: { canary?: number; by?: Caller } = {}): Promise<SwapEvent> {
    const service = this.#service(name);
    const bad = validateVersion(version);
    if (bad !== undefined) return Promise.reject(new BatonError('BAD_VERSION', `version ${JSON.stringify(version)}: ${bad}`));
    const canary = service.canary;
    if (canary !== undefined) {
      return Promise.reject(
        new BatonError('CANARY_IN_PROGRESS', `${name} has a canary of ${canary.release.version} at ${canary.percent}%: promote or roll it back first`, { details: { service: name, version: canary.release.version } }),
      );
    }
    const { canary: percent } = opts;
    if (percent !== undefined) {
      if (!Number.isInteger(percent) || percent < 1 || percent > 99) return Promise.reject(new BatonError('BAD_REQUEST', `canary: expected a percentage from 1 to 99, got ${JSON.stringify(percent)}`));
      return this.#track(service, 'canary', { version, by: opts.by, detail: { percent } }, emit, (relay) => startCanary(service, version, percent, this.#swapDeps(), relay));
    }
    return this.#track(service, 'deploy', { version, by: opts.by }, emit, (relay) => swap(service, version, 'deploy', this.#swapDeps(), relay));
  }

  rollback(name: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent> {
    const service = this.#service(name);
    const canary = service.canary;
    if (canary !== undefined) {
      const active = service.active?.version ?? canary.release.version;
      return this.#track(service, 'rollback', { version: active, by, detail: { canary: canary.release.version }, previous: canary.release.version }, emit, (relay) => endCanary(service, this.#swapDeps(), relay));
    }
    const previous = service.previousVersion;
    if (previous === undefined) return Promise.reject(new BatonError('NO_PREVIOUS_VERSION', `${name} has no previous version to roll back to`));
    return this.#track(service, 'rollback', { version: previous, by }, emit, (relay) => swap(service, previous, 'rollback', this.#swapDeps(), relay));
  }

  promote(name: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent> {
    const service = this.#service(name);
    return this.#track(service, 'promote', { version: service.canary?.release.version ?? '', by }, emit, (relay) => promote(service, this.#swapDeps(), relay));
  }

  /** Re-read the config file and apply it (see reload.ts). One at a time; an invalid file changes nothing. */
  reload(by: Caller = SOCKET): Promise<ReloadReport> {
    if (this.#reloading !== undefined) return Promise.reject(new BatonError('RELOAD_IN_PROGRESS', 'a reload is already running'));
    if (this.#upgrading !== undefined) return Promise.reject(upgradeRunning());
    if (this.#stopping.signal.aborted) return Promise.reject(new BatonError('ABORTED', 'Baton is stopping'));
    const file = this.#config.file;
    if (file === '<default>') return Promise.reject(new BatonError('BAD_REQUEST', 'Baton serves its embedded default: there is no config file to reload (start it with -c FILE)'));
    const began = performance.now();
    const run = (async () => {
      const next = await loadConfig(file);
      // Certificates are read and checked first: a bad one fails the reload and changes nothing (issue 11).
      const applyTls = await this.#tls?.prepare(next);
      const report = await applyReload(this.#reloadTarget(), this.#config, next, this.#log);
      await applyTls?.();
      this.#config = next;
      return report;
    })();
    void run.then(
      (r) => this.#history.record('reload', null, { by, ms: performance.now() - began, detail: { added: r.added, removed: r.removed, changed: r.changed.map((c) => c.service), failed: r.failed, applied: r.global, restart_required: r.restart_required } }),
      (err: unknown) => {
        const e = err instanceof BatonError ? err : new BatonError('INTERNAL', (err as Error).message);
        this.#history.record('reload', null, { by, ms: performance.now() - began, error: { code: e.code, message: e.message } });
      },
    );
    this.#reloading = run;
    void run.then(
      () => (this.#reloading = undefined),
      () => (this.#reloading = undefined),
    );
    return run;
  }

  /**
   * Replace this process with a new Baton from the installed code, listeners and apps handed
   * over (see upgrade/handover.ts). One at a time, never during a swap or a reload.
   */
  upgrade(emit: (e: UpgradeEvent | UpgradeDone) => void, given: { readyTimeoutMs?: number; by?: Caller } = {}): Promise<UpgradeDone> {
    const opts = this.#opts.upgrade;
    if (opts === undefined) return Promise.reject(new BatonError('BAD_REQUEST', 'this Baton was not started by `baton start`: it cannot start a successor'));
    if (this.#upgrading !== undefined) return Promise.reject(new BatonError('UPGRADE_IN_PROGRESS', 'an upgrade is already running'));
    // A container's PID 1 ending ends the container, successor included.
    if (process.pid === 1) return Promise.reject(new BatonError('BAD_REQUEST', 'Baton runs as PID 1 (a container without an init): its exit would end the container with the new process; run the container with --init'));
    if (this.#stopping.signal.aborted) return Promise.reject(new BatonError('ABORTED', 'Baton is stopping'));
    if (this.#reloading !== undefined) return Promise.reject(new BatonError('RELOAD_IN_PROGRESS', 'a reload is running: upgrade when it is done'));
    const swapping = [...this.#services.values()].filter((s) => s.swapping !== undefined).map((s) => s.name);
    if (this.#swaps.size > 0 || this.#retiring.size > 0) {
      return Promise.reject(new BatonError('SWAP_IN_PROGRESS', `a swap is running${swapping.length > 0 ? ` (${swapping.join(', ')})` : ''}: upgrade when it is done`));
    }
    const run = (async () => {
      await this.#checkConfigUnchanged();
      const { by = SOCKET, readyTimeoutMs = opts.readyTimeoutMs } = given;
      // Issue 16: recorded here, where the steps and the caller are; a successor reads it once let go.
      const recording = this.#history.upgrade(by);
      const relay = (e: UpgradeEvent | UpgradeDone): void => {
        recording.emit(e);
        emit(e);
      };
      const done = await upgrade(this.#upgradeHost({ ...opts, ...(readyTimeoutMs === undefined ? {} : { readyTimeoutMs }) }, recording.ended), relay);
      if (done.ok) void this.#finishHandover();
      return done;
    })();
    this.#upgrading = run;
    void run.then(
      (done) => {
        if (!done.ok) this.#upgrading = undefined;
      },
      () => (this.#upgrading = undefined),
    );
    return run;
  }

  /** Maintenance on (every request gets the maintenance page) or off; kept across restarts. */
  async maintenance(name: string, on: boolean, message: string, by: Caller = SOCKET): Promise<MaintenanceReply> {
    const service = this.#service(name);
    if (this.#upgrading !== undefined) throw upgradeRunning();
    if (on) {
      service.setMaintenance({ message, since: Date.now(), page: await readMaintenancePage(service) });
      this.#hub.broadcast({ type: 'notice', service: name, version: service.active?.version ?? '', message: message === '' ? 'Down for maintenance' : message });
    } else service.setMaintenance(undefined);
    this.#history.record('maintenance', name, { version: service.active?.version ?? null, by, detail: on ? { on, message } : { on } });
    await this.#persist();
    return { service: name, maintenance: on, message: service.maintenance?.message ?? null, state: service.state };
  }

  pause(name: string, timeoutMs: number | undefined, by: Caller = SOCKET): PauseReply {
    const service = this.#service(name);
    if (this.#upgrading !== undefined) throw upgradeRunning();
    service.pause(timeoutMs);
    this.#history.record('pause', name, { version: service.active?.version ?? null, by, detail: { timeout_ms: timeoutMs ?? null } });
    return { service: name, state: 'paused', timeout_ms: timeoutMs ?? null };
  }

  resume(name: string, by: Caller = SOCKET): ResumeReply {
    const service = this.#service(name);
    if (this.#upgrading !== undefined) throw upgradeRunning();
    const released = service.resume();
    this.#history.record('resume', name, { version: service.active?.version ?? null, by, detail: { released } });
    return { service: name, state: service.state, released };
  }

  notify(name: string, message: string): NotifyReply {
    const service = this.#service(name);
    const browsers = this.#hub.broadcast({ type: 'notice', service: name, version: service.active?.version ?? '', message });
    return { service: name, browsers };
  }

  metrics(): Promise<{ contentType: string; body: string }> {
    return this.#metrics.text();
  }

  history(query: HistoryQuery): HistoryBody {
    const name = query.service;
    if (name !== undefined && !this.#services.has(name) && !this.#history.knows(name)) this.#service(name);
    return { history: this.#history.query(query) };
  }

  series(): SeriesBody {
    return this.#series.body(this.#services.keys());
  }

  subscribe(listener: (e: LiveEvent) => void): () => void {
    return this.#live.subscribe(listener);
  }

  /** SIGUSR1: reopen the access log file (logrotate moved it). */
  reopenLogs(): void {
    this.#accessLog?.reopen();
  }

  /** The instances of the active version (and of a canary), for `baton logs`. */
  instances(name: string): readonly Instance[] {
    const service = this.#service(name);
    return [...(service.active?.upstreams ?? []), ...(service.canary?.release.upstreams ?? [])].map((u) => u.instance);
  }

  // --- internals ------------------------------------------------------------------------

  #service(name: string): Service {
    const s = this.#services.get(name);
    if (s === undefined) throw new BatonError('UNKNOWN_SERVICE', `unknown service ${JSON.stringify(name)} (known: ${[...this.#services.keys()].join(', ')})`);
    return s;
  }

  /**
   * Run a swap of `service`, counted in metrics, recorded in the history and awaited by stop().
   * It is recorded once it holds the service's lock: a swap refused (409) is not one.
   */
  #track(
    service: Service,
    kind: SwapKind,
    what: { version: string; by: Caller | undefined; detail?: Record<string, unknown>; previous?: string },
    emit: (e: SwapEvent) => void,
    start: (relay: (e: SwapEvent) => void) => Promise<DoneEvent>,
  ): Promise<SwapEvent> {
    if (this.#stopping.signal.aborted) return Promise.reject(new BatonError('ABORTED', 'Baton is stopping'));
    if (this.#upgrading !== undefined) return Promise.reject(upgradeRunning());
    const lockedBefore = service.swapping !== undefined;
    const previous = what.previous ?? service.active?.version ?? null;
    let recording: ReturnType<History['swap']> | undefined;
    const record = (): ReturnType<History['swap']> => (recording ??= this.#history.swap(kind, service.name, what.version, previous, what.by ?? SOCKET, what.detail));
    const relay = (e: SwapEvent): void => {
      record().emit(e);
      emit(e);
    };
    let run: Promise<DoneEvent>;
    try {
      run = start(relay);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!lockedBefore && service.swapping !== undefined) record();
    this.#swaps.add(run);
    void run.then(
      (done) => {
        this.#swaps.delete(run);
        this.#metrics.swapped(service.name, kind, done.ok, done.ms);
      },
      (err: unknown) => {
        this.#swaps.delete(run);
        recording?.fault(err);
      },
    );
    return run;
  }

  /** Once a second: close the series' second and tell the dashboards. */
  #tick(): void {
    const status = this.status();
    const gauges = new Map<string, Gauges>();
    for (const [name, s] of Object.entries(status.services)) gauges.set(name, { held: s.queued, websockets: s.websockets, inflight: s.inflight });
    const t = Date.now();
    const points = this.#series.tick(t, gauges);
    if (this.#live.subscribers > 0) this.#live.publish({ type: 'tick', t, status, points });
  }

  /** The access log as `config` says: created when first on, closed when turned off, reconfigured otherwise. */
  #configureAccessLog(config: Config): void {
    const want = config.accessLog;
    if (!want.enabled) {
      this.#observers.set(undefined);
      void this.#accessLog?.close();
      return;
    }
    if (this.#accessLog === undefined) this.#accessLog = new AccessLog({ config: want, registry: this.#metrics.registry, log: this.#log.child({ component: 'access-log' }) });
    else this.#accessLog.reconfigure(want);
    this.#observers.set(this.#accessLog);
  }

  async #makeService(config: ServiceConfig): Promise<Service> {
    const log = this.#log.child({ service: config.name });
    return new Service(config, await this.#opts.makeRuntime(config, log), log, this.#supervision());
  }

  #reloadTarget(): ReloadTarget {
    return {
      services: this.#services,
      makeService: (config) => this.#makeService(config),
      makeRuntime: (config, service) => this.#opts.makeRuntime(config, service.log),
      bringUp: async (service) => {
        const saved = await this.#state.read().catch(() => ({ services: {} }) as SavedState);
        service.gate.hold('swap');
        try {
          await bringUp(service, saved.services[service.name], this.#swapDeps());
        } finally {
          service.gate.release('swap');
        }
      },
      retire: (service) => {
        const done = this.#retire(service);
        this.#retiring.add(done);
        void done.finally(() => this.#retiring.delete(done));
      },
      route: (services) => this.#proxy?.route(services),
      reconfigure: (next) => {
        this.#proxy?.reconfigure(next.limits, next.trustedProxies);
        this.#proxy?.setTraceparent(next.traceparent);
        this.#configureAccessLog(next);
      },
      persist: () => this.#persist(),
    };
  }

  /** A service removed by a reload: its held requests go on, its traffic drains, its instances stop. */
  async #retire(service: Service): Promise<void> {
    service.shutdown();
    const { drain } = service.config;
    await Promise.all(service.releases().map((r) => r.drain({ timeoutMs: drain.timeoutMs, websocketGraceMs: drain.websocketGraceMs, signal: this.#stopping.signal })));
    await Promise.all(service.releases().map((r) => r.stop(this.#stopGrace())));
    service.runtime.close?.();
    service.log.info('service removed');
  }

  #supervision(): Supervision {
    return { probe, health: (instance, health, signal) => waitHealthy(instance, health, signal), stopGraceMs: this.#stopGrace(), changed: () => void this.#persist().catch(() => {}) };
  }

  #swapDeps(): SwapDeps {
    return {
      notify: (n, only) => this.#hub.broadcast(n, only),
      persist: () => this.#persist(),
      health: waitHealthy,
      signal: this.#stopping.signal,
      stopGraceMs: this.#stopGrace(),
      migrated: (service, ok, ms) => this.#metrics.migrated(service, ok, ms),
    };
  }

  #persist(): Promise<void> {
    if (this.#handedOver) return Promise.resolve();
    const state: SavedState = { services: {} };
    for (const [name, s] of this.#services) {
      const active = s.active;
      if (active === undefined) continue;
      const m = s.maintenance;
      const canary = s.canary;
      const paused = s.paused;
      const instances = descriptors(active);
      state.services[name] = {
        version: active.version,
        ...(s.previousVersion === undefined ? {} : { previous: s.previousVersion }),
        ...(m === undefined ? {} : { maintenance: { message: m.message, since: m.since } }),
        ...(instances.length === 0 ? {} : { instances }),
        ...(canary === undefined ? {} : { canary: { version: canary.release.version, percent: canary.percent, instances: descriptors(canary.release) } }),
        ...(paused === undefined ? {} : { paused }),
      };
    }
    return this.#state.write(state);
  }

  /** The file on disk must be the config applied: the successor reads it, and must not change what runs. */
  async #checkConfigUnchanged(): Promise<void> {
    const file = this.#config.file;
    if (file === '<default>') return;
    const onDisk = await loadConfig(file).catch((err: unknown) => {
      throw new BatonError('CONFIG_CHANGED', `${file} no longer loads (${(err as Error).message}): fix it or reload first; the new Baton would read it`);
    });
    const d = diffConfig(this.#config, onDisk);
    const changed = [...d.added, ...d.removed, ...d.changed.map((c) => c.service), ...d.global, ...d.restart_required];
    if (changed.length > 0) throw new BatonError('CONFIG_CHANGED', `${file} differs from the config applied (${changed.join(', ')}): run \`baton reload\` first, or restore the file`, { details: { changed } });
  }

  #upgradeHost(opts: NonNullable<BatonOptions['upgrade']>, ended: UpgradeHost['ended']): UpgradeHost {
    const services = [...this.#services.values()];
    return {
      ended,
      log: this.#log.child({ component: 'upgrade' }),
      command: opts.command,
      outputFd: opts.output.descriptor,
      tee: (chunk) => void opts.output.write(chunk),
      readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
      listeners: () => {
        const p = this.#proxy?.listeners();
        const c = this.#control?.listeners();
        return { ...(p === undefined ? {} : { public: p.public, ...(p.tls === undefined ? {} : { tls: p.tls }) }), ...(c === undefined ? {} : { control: c.control, ...(c.tcp === undefined ? {} : { 'control-tcp': c.tcp }) }) };
      },
      ticketKeys: () => this.#tls?.ticketKeys(),
      persist: () => this.#persist(),
      stopAccepting: () => {
        // Decide nothing more: no state write, no restart of a crashed replica (the successor's job).
        this.#handedOver = true;
        for (const s of services) s.shutdown();
        this.#control?.handOver();
        this.#hub.close(1012, 'baton restarting');
        // Closed at once; its promise would wait for every connection to end.
        void this.#proxy?.stopAccepting({ handover: true });
      },
      drain: async () => {
        const reports = await Promise.all(
          services.flatMap((s) => s.releases().map((r) => r.drain({ timeoutMs: s.config.drain.timeoutMs, websocketGraceMs: s.config.drain.websocketGraceMs, signal: this.#stopping.signal }))),
        );
        const sum = (k: 'cut' | 'websocketsClosed' | 'streamsEnded'): number => reports.reduce((n, r) => n + r[k], 0);
        return { cut: sum('cut'), websockets_closed: sum('websocketsClosed'), streams_ended: sum('streamsEnded') };
      },
    };
  }

  /** After a successful upgrade: end the control connections still open (the upgrade's stream), let go of the apps, let the process exit. */
  async #finishHandover(): Promise<void> {
    // No more certificate renewals or ticket rotation here: the successor does both.
    await this.#tls?.stop();
    // Keep-alive connections end after their next answer or a second idle; what remains then is cut.
    const until = performance.now() + 5_000;
    while ((this.#proxy?.connections ?? 0) > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    this.#proxy?.closeAll();
    await this.#control?.close();
    for (const s of this.#services.values()) {
      for (const u of s.upstreams()) u.close();
      s.runtime.close?.();
    }
    // Issue 16: the last access log lines and history records are written before exiting.
    clearInterval(this.#ticker);
    await this.#history.flushed();
    await this.#accessLog?.close();
    this.#log.info('handed over to the new Baton: exiting');
    this.#exitAfterHandover();
  }

  #stopGrace(): number {
    return this.#opts.stopGraceMs ?? 10_000;
  }
}
