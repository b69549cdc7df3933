import type { Logger } from 'pino';
import type { Config, ServiceConfig } from './config/types.js';
import type { Instance, Runtime } from './runtime/runtime.js';
import { Service } from './service.js';
import type { Supervision } from './supervision.js';
import { SwapTracker } from './swap/tracker.js';
import { ProxyServer } from './proxy/server.js';
import { NoticeHub } from './notify/hub.js';
import { ControlServer } from './control/server.js';
import { readTokens } from './control/token.js';
import type { ControlApi, HistoryQuery, MaintenanceReply, NotifyReply, PauseReply, ResumeReply, StatusBody } from './control/protocol.js';
import { endCanary, promote, startCanary, swap, type SwapDeps, type SwapEvent } from './swap/swap.js';
import { StateStore, type SavedState } from './state/store.js';
import { snapshotOf } from './state/snapshot.js';
import { applyReload, type ReloadReport, type ReloadTarget } from './reload.js';
import { loadConfig } from './config/load.js';
import { bringUp, listenError } from './bring-up.js';
import { waitHealthy, probe } from './upstream/health.js';
import { Metrics } from './metrics.js';
import { BatonError } from './errors.js';
import { validateVersion } from './config/values.js';
import { stopLeftoverApps } from './runtime/leftovers.js';
import { readMaintenancePage } from './maintenance.js';
import { upgrade, type UpgradeDone, type UpgradeEvent, type UpgradeHost } from './upgrade/handover.js';
import { adoptedSummary, checkConfigUnchanged, movedListeners, upgradeHost, upgradeRunning, type TakeoverPlan, type UpgradeOptions } from './upgrade/host.js';
import { TlsEdge } from './tls/edge.js';
import { Observability } from './observe/observability.js';
import type { Caller, HistoryBody } from './observe/history.js';
import type { LiveEvent } from './observe/live.js';
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
  upgrade?: UpgradeOptions;
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
  readonly #swaps: SwapTracker;
  #proxy: ProxyServer | undefined;
  /** The TLS listener and its certificates (issue 11), when the config has `tls`. */
  #tls: TlsEdge | undefined;
  /** The config now applied (a reload replaces it). */
  #config: Config;
  /** The config this process bound its listeners and opened its state file with. */
  readonly #startConfig: Config;
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
  /** The access log, the deploy history, the dashboard's series and stream (issue 16). */
  readonly #observe: Observability;

  constructor(opts: BatonOptions) {
    this.#opts = opts;
    this.#config = opts.config;
    this.#startConfig = opts.config;
    this.#log = opts.log;
    this.#hub = new NoticeHub({ log: opts.log.child({ component: 'notify' }), maxPerAddress: opts.config.limits.noticeSocketsPerClient });
    this.#metrics = new Metrics(() => [...this.#services.values()]);
    this.#state = new StateStore(opts.config.stateFile);
    this.#observe = new Observability({ config: opts.config, log: opts.log, metrics: this.#metrics });
    this.#swaps = new SwapTracker({
      history: this.#observe.history,
      metrics: this.#metrics,
      refusal: () => (this.#stopping.signal.aborted ? new BatonError('ABORTED', 'Baton is stopping') : this.#upgrading !== undefined ? upgradeRunning() : undefined),
    });
  }

  /** Where the public listener is bound (after start). */
  get listenAddress(): string {
    return this.#listen;
  }

  /**
   * Bring every service up (adopting what already runs), then open the public listener and
   * the control socket. Resolves when all services are healthy and both listen.
   */
  async start(takeover?: TakeoverPlan): Promise<void> {
    const config = this.#config;
    this.#control = new ControlServer({
      path: config.control.socket,
      api: this,
      log: this.#log.child({ component: 'control' }),
      ...(config.control.tcp === undefined ? {} : { tcp: { listen: config.control.tcp.listen, tokens: await readTokens(config.control.tcp.tokenFile) } }),
    });
    // A successor's socket is live: its predecessor answers there.
    if (takeover === undefined) await this.#control.check();
    await this.#observe.history.load();
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
      observer: this.#observe.observers,
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
        await takeover.adopted(adoptedSummary(this.#services));
        await this.#listenPublic(takeover.listeners.public, takeover.listeners.tls);
      }
    } finally {
      for (const s of this.#services.values()) s.gate.release('swap');
    }
    await this.#control.listen(takeover === undefined ? {} : { control: takeover.listeners.control, tcp: takeover.listeners['control-tcp'] });
    this.#observe.start(() => this.status());
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
    return this.#observe.history.reread();
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
    await Promise.allSettled([this.#swaps.settled(), ...this.#retiring]);
    proxy?.closeAll();
    await closing;
    await tlsStopped;
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
    await this.#observe.close();
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
      return this.#swaps.run(service, 'canary', { version, by: opts.by ?? SOCKET, detail: { percent } }, emit, (relay) => startCanary(service, version, percent, this.#swapDeps(), relay));
    }
    return this.#swaps.run(service, 'deploy', { version, by: opts.by ?? SOCKET }, emit, (relay) => swap(service, version, 'deploy', this.#swapDeps(), relay));
  }

  rollback(name: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent> {
    const service = this.#service(name);
    const canary = service.canary;
    if (canary !== undefined) {
      const active = service.active?.version ?? canary.release.version;
      return this.#swaps.run(service, 'rollback', { version: active, by: by ?? SOCKET, detail: { canary: canary.release.version }, previous: canary.release.version }, emit, (relay) => endCanary(service, this.#swapDeps(), relay));
    }
    const previous = service.previousVersion;
    if (previous === undefined) return Promise.reject(new BatonError('NO_PREVIOUS_VERSION', `${name} has no previous version to roll back to`));
    return this.#swaps.run(service, 'rollback', { version: previous, by: by ?? SOCKET }, emit, (relay) => swap(service, previous, 'rollback', this.#swapDeps(), relay));
  }

  promote(name: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent> {
    const service = this.#service(name);
    return this.#swaps.run(service, 'promote', { version: service.canary?.release.version ?? '', by: by ?? SOCKET }, emit, (relay) => promote(service, this.#swapDeps(), relay));
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
      (r) => this.#observe.history.record('reload', null, { by, ms: performance.now() - began, detail: { added: r.added, removed: r.removed, changed: r.changed.map((c) => c.service), failed: r.failed, applied: r.global, restart_required: r.restart_required } }),
      (err: unknown) => {
        const e = err instanceof BatonError ? err : new BatonError('INTERNAL', (err as Error).message);
        this.#observe.history.record('reload', null, { by, ms: performance.now() - began, error: { code: e.code, message: e.message } });
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
      await checkConfigUnchanged(this.#config, this.#startConfig);
      const { by = SOCKET, readyTimeoutMs = opts.readyTimeoutMs } = given;
      // Recorded here, where the steps and the caller are; a successor reads it once let go.
      const recording = this.#observe.history.upgrade(by);
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
    this.#observe.history.record('maintenance', name, { version: service.active?.version ?? null, by, detail: on ? { on, message } : { on } });
    await this.#persist();
    return { service: name, maintenance: on, message: service.maintenance?.message ?? null, state: service.state };
  }

  pause(name: string, timeoutMs: number | undefined, by: Caller = SOCKET): PauseReply {
    const service = this.#service(name);
    if (this.#upgrading !== undefined) throw upgradeRunning();
    service.pause(timeoutMs);
    this.#observe.history.record('pause', name, { version: service.active?.version ?? null, by, detail: { timeout_ms: timeoutMs ?? null } });
    return { service: name, state: 'paused', timeout_ms: timeoutMs ?? null };
  }

  resume(name: string, by: Caller = SOCKET): ResumeReply {
    const service = this.#service(name);
    if (this.#upgrading !== undefined) throw upgradeRunning();
    const released = service.resume();
    this.#observe.history.record('resume', name, { version: service.active?.version ?? null, by, detail: { released } });
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
    if (name !== undefined && !this.#services.has(name) && !this.#observe.history.knows(name)) this.#service(name);
    return { history: this.#observe.history.query(query) };
  }

  series(): SeriesBody {
    return this.#observe.series(this.#services.keys());
  }

  subscribe(listener: (e: LiveEvent) => void): () => void {
    return this.#observe.subscribe(listener);
  }

  /** SIGUSR1: reopen the access log file (logrotate moved it). */
  reopenLogs(): void {
    this.#observe.reopen();
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
        this.#observe.configure(next);
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
    return this.#state.write(snapshotOf(this.#services));
  }

  #upgradeHost(opts: UpgradeOptions, ended: UpgradeHost['ended']): UpgradeHost {
    return upgradeHost(opts, {
      ended,
      log: this.#log.child({ component: 'upgrade' }),
      services: [...this.#services.values()],
      proxy: this.#proxy,
      control: this.#control,
      tls: this.#tls,
      hub: this.#hub,
      signal: this.#stopping.signal,
      persist: () => this.#persist(),
      letGo: () => (this.#handedOver = true),
      moved: movedListeners(this.#startConfig, this.#config),
    });
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
    // The last access log lines and history records are written before exiting.
    await this.#observe.close();
    this.#log.info('handed over to the new Baton: exiting');
    this.#exitAfterHandover();
  }

  #stopGrace(): number {
    return this.#opts.stopGraceMs ?? 10_000;
  }
}
