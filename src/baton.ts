import type { Logger } from 'pino';
import type { Config, ServiceConfig } from './config/types.js';
import type { Runtime } from './runtime/runtime.js';
import { Service, type Supervision, type SwapKind } from './service.js';
import { ProxyServer } from './proxy/server.js';
import { NoticeHub } from './notify/hub.js';
import { ControlServer } from './control/server.js';
import { readTokenFile } from './control/token.js';
import type { ControlApi, NotifyReply, PauseReply, ResumeReply, StatusBody } from './control/protocol.js';
import { endCanary, promote, startCanary, swap, type DoneEvent, type SwapDeps, type SwapEvent } from './swap/swap.js';
import { StateStore, type SavedState } from './state/store.js';
import { applyReload, type ReloadReport, type ReloadTarget } from './reload.js';
import { loadConfig } from './config/load.js';
import { bringUp, listenError } from './bring-up.js';
import { waitHealthy, probe } from './upstream/health.js';
import { Metrics } from './metrics.js';
import { BatonError } from './errors.js';
import { validateVersion } from './config/schema.js';
import { TlsEdge } from './tls/edge.js';

export interface BatonOptions {
  config: Config;
  log: Logger;
  /** Builds the runtime of a service (process or Docker). */
  makeRuntime: (service: ServiceConfig, log: Logger) => Promise<Runtime>;
  /** Grace between SIGTERM (docker stop) and the forceful kill of an old version. */
  stopGraceMs?: number;
  version?: string;
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

  constructor(opts: BatonOptions) {
    this.#opts = opts;
    this.#config = opts.config;
    this.#log = opts.log;
    this.#hub = new NoticeHub({ log: opts.log.child({ component: 'notify' }), maxPerAddress: opts.config.limits.noticeSocketsPerClient });
    this.#metrics = new Metrics(() => [...this.#services.values()]);
    this.#state = new StateStore(opts.config.stateFile);
  }

  /** Where the public listener is bound (after start). */
  get listenAddress(): string {
    return this.#listen;
  }

  /**
   * Bring every service up (adopting what already runs), then open the public listener and
   * the control socket. Resolves when all services are healthy and both listen.
   */
  async start(): Promise<void> {
    const config = this.#config;
    this.#control = new ControlServer({
      path: config.control.socket,
      api: this,
      log: this.#log.child({ component: 'control' }),
      ...(config.control.tcp === undefined ? {} : { tcp: { listen: config.control.tcp.listen, token: await readTokenFile(config.control.tcp.tokenFile) } }),
    });
    await this.#control.check();
    const saved = await this.#state.read();
    // Certificates are read (and a bad one refused, naming its file) before anything starts.
    if (config.tls !== undefined) this.#tls = await TlsEdge.create(config, this.#log.child({ component: 'tls' }));
    for (const sc of Object.values(config.services)) this.#services.set(sc.name, await this.#makeService(sc));
    // The listener is bound before any app starts (a taken port fails fast, naming it); until a
    // service is up, its requests wait at its gate as in a swap's hold.
    this.#proxy = new ProxyServer({
      listen: config.listen,
      services: [...this.#services.values()],
      limits: config.limits,
      trustedProxies: config.trustedProxies,
      hub: this.#hub,
      log: this.#log.child({ component: 'proxy' }),
      observer: this.#metrics,
      ...(this.#tls === undefined ? {} : { tls: this.#tls }),
    });
    const bound = await this.#proxy.listen().catch((err: NodeJS.ErrnoException) => {
      throw listenError(err, 'listen', config.listen);
    });
    if (this.#tls !== undefined) {
      const tlsBound = await this.#proxy.listenTls().catch((err: NodeJS.ErrnoException) => {
        throw listenError(err, 'tls.listen', config.tls!.listen);
      });
      this.#tls.started(bound);
      this.#log.info({ listen: this.#tls.status().listen, port: tlsBound?.port }, 'tls listener started');
    }
    this.#listen = bound.host.includes(':') ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`;
    for (const s of this.#services.values()) s.gate.hold('swap');
    try {
      // Services come up in parallel; Baton is ready only when all are.
      await Promise.all([...this.#services.values()].map((s) => bringUp(s, saved.services[s.name], this.#swapDeps())));
    } finally {
      for (const s of this.#services.values()) s.gate.release('swap');
    }
    await this.#control.listen();
    await this.#persist();
    this.#log.info({ listen: this.#listen, control: config.control.socket, services: [...this.#services.keys()] }, 'baton started');
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

  deploy(name: string, version: string, emit: (e: SwapEvent) => void, opts: { canary?: number } = {}): Promise<SwapEvent> {
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
      return this.#track(service, 'canary', () => startCanary(service, version, percent, this.#swapDeps(), emit));
    }
    return this.#track(service, 'deploy', () => swap(service, version, 'deploy', this.#swapDeps(), emit));
  }

  rollback(name: string, emit: (e: SwapEvent) => void): Promise<SwapEvent> {
    const service = this.#service(name);
    if (service.canary !== undefined) return this.#track(service, 'rollback', () => endCanary(service, this.#swapDeps(), emit));
    const previous = service.previousVersion;
    if (previous === undefined) return Promise.reject(new BatonError('NO_PREVIOUS_VERSION', `${name} has no previous version to roll back to`));
    return this.#track(service, 'rollback', () => swap(service, previous, 'rollback', this.#swapDeps(), emit));
  }

  promote(name: string, emit: (e: SwapEvent) => void): Promise<SwapEvent> {
    const service = this.#service(name);
    return this.#track(service, 'promote', () => promote(service, this.#swapDeps(), emit));
  }

  /** Re-read the config file and apply it (see reload.ts). One at a time; an invalid file changes nothing. */
  reload(): Promise<ReloadReport> {
    if (this.#reloading !== undefined) return Promise.reject(new BatonError('RELOAD_IN_PROGRESS', 'a reload is already running'));
    if (this.#stopping.signal.aborted) return Promise.reject(new BatonError('ABORTED', 'Baton is stopping'));
    const file = this.#config.file;
    if (file === '<default>') return Promise.reject(new BatonError('BAD_REQUEST', 'Baton serves its embedded default: there is no config file to reload (start it with -c FILE)'));
    const run = (async () => {
      const next = await loadConfig(file);
      // Certificates are read and checked first: a bad one fails the reload and changes nothing (issue 11).
      const applyTls = await this.#tls?.prepare(next);
      const report = await applyReload(this.#reloadTarget(), this.#config, next, this.#log);
      await applyTls?.();
      this.#config = next;
      return report;
    })();
    this.#reloading = run;
    void run.then(
      () => (this.#reloading = undefined),
      () => (this.#reloading = undefined),
    );
    return run;
  }

  pause(name: string, timeoutMs: number | undefined): PauseReply {
    const service = this.#service(name);
    service.pause(timeoutMs);
    return { service: name, state: 'paused', timeout_ms: timeoutMs ?? null };
  }

  resume(name: string): ResumeReply {
    const service = this.#service(name);
    const released = service.resume();
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

  /** The TLS session ticket keys in use (48 bytes), for the next process of a self-upgrade; undefined without `tls`. */
  tlsTicketKeys(): Buffer | undefined {
    return this.#tls?.ticketKeys();
  }

  /** Install the previous process's ticket keys (a self-upgrade), so its clients' sessions resume here. */
  setTlsTicketKeys(keys: Buffer): void {
    this.#tls?.setTicketKeys(keys);
  }

  // --- internals ------------------------------------------------------------------------

  #service(name: string): Service {
    const s = this.#services.get(name);
    if (s === undefined) throw new BatonError('UNKNOWN_SERVICE', `unknown service ${JSON.stringify(name)} (known: ${[...this.#services.keys()].join(', ')})`);
    return s;
  }

  /** Run a swap of `service`, counted in metrics and awaited by stop(). */
  #track(service: Service, kind: SwapKind, start: () => Promise<DoneEvent>): Promise<SwapEvent> {
    if (this.#stopping.signal.aborted) return Promise.reject(new BatonError('ABORTED', 'Baton is stopping'));
    let run: Promise<DoneEvent>;
    try {
      run = start();
    } catch (err) {
      return Promise.reject(err);
    }
    this.#swaps.add(run);
    void run.then(
      (done) => {
        this.#swaps.delete(run);
        this.#metrics.swapped(service.name, kind, done.ok, done.ms);
      },
      () => this.#swaps.delete(run),
    );
    return run;
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
      reconfigure: (next) => this.#proxy?.reconfigure(next.limits, next.trustedProxies),
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
    return { probe, health: (instance, health, signal) => waitHealthy(instance, health, signal), stopGraceMs: this.#stopGrace() };
  }

  #swapDeps(): SwapDeps {
    return {
      notify: (n, only) => this.#hub.broadcast(n, only),
      persist: () => this.#persist(),
      health: waitHealthy,
      signal: this.#stopping.signal,
      stopGraceMs: this.#stopGrace(),
    };
  }

  #persist(): Promise<void> {
    const state: SavedState = { services: {} };
    for (const [name, s] of this.#services) {
      const active = s.active;
      if (active === undefined) continue;
      state.services[name] = s.previousVersion === undefined ? { version: active.version } : { version: active.version, previous: s.previousVersion };
    }
    return this.#state.write(state);
  }

  #stopGrace(): number {
    return this.#opts.stopGraceMs ?? 10_000;
  }
}
