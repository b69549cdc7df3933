import type { Logger } from 'pino';
import type { Config, ServiceConfig } from './config/types.js';
import type { Runtime } from './runtime/runtime.js';
import { SwapTracker } from './swap/tracker.js';
import { ProxyServer } from './proxy/server.js';
import { NoticeHub } from './notify/hub.js';
import { ControlServer } from './control/server.js';
import { readTokens } from './control/token.js';
import { SwapCommands } from './swap/commands.js';
import { BatonApi } from './api.js';
import { StateStore } from './state/store.js';
import { Reloader, type ReloadReport, type ReloadTarget } from './reload.js';
import { bringUpAll } from './bring-up.js';
import { listenPublic } from './listen.js';
import { Metrics } from './metrics.js';
import { BatonError } from './errors.js';
import { stopLeftoverApps } from './runtime/leftovers.js';
import type { UpgradeDone, UpgradeEvent, UpgradeHost } from './upgrade/handover.js';
import { adoptedSummary, movedListeners, upgradeHost, upgradeRunning, type TakeoverPlan, type UpgradeOptions } from './upgrade/host.js';
import { Upgrader } from './upgrade/upgrader.js';
import { abandon, finishHandover, stopBaton, type RunningParts } from './shutdown.js';
import { Services } from './services.js';
import { TlsEdge } from './tls/edge.js';
import { Observability } from './observe/observability.js';
import type { Caller } from './observe/history.js';

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

/**
 * One running proxy: services, the public listener, the control socket and the state file,
 * wired together. Owns their lifecycles; holds no logic of its own beyond startup order.
 */
export class Baton {
  readonly #log: Logger;
  readonly #services: Services;
  readonly #hub: NoticeHub;
  readonly #metrics: Metrics;
  readonly #state: StateStore;
  readonly #stopGraceMs: number;
  readonly #stopping = new AbortController();
  readonly #swaps: SwapTracker;
  readonly #reloader: Reloader;
  readonly #upgrader: Upgrader;
  #proxy: ProxyServer | undefined;
  /** The TLS listener and its certificates (issue 11), when the config has `tls`. */
  #tls: TlsEdge | undefined;
  /** The config now applied (a reload replaces it). */
  #config: Config;
  /** The config this process bound its listeners and opened its state file with. */
  readonly #startConfig: Config;
  #control: ControlServer | undefined;
  #listen = '';
  /** The control API's answers, from the parts below. */
  readonly #api: BatonApi;
  #exitAfterHandover!: () => void;
  /** Resolves when this process has handed over to a successor and finished: it may exit, leaving the apps running. */
  readonly handedOver = new Promise<void>((resolve) => (this.#exitAfterHandover = resolve));
  /** The access log, the deploy history, the dashboard's series and stream (issue 16). */
  readonly #observe: Observability;

  constructor(opts: BatonOptions) {
    this.#config = opts.config;
    this.#startConfig = opts.config;
    this.#log = opts.log;
    this.#hub = new NoticeHub({ log: opts.log.child({ component: 'notify' }), maxPerAddress: opts.config.limits.noticeSocketsPerClient });
    this.#metrics = new Metrics(() => [...this.#services.values()]);
    this.#state = new StateStore(opts.config.stateFile);
    this.#stopGraceMs = opts.stopGraceMs ?? 10_000;
    this.#services = new Services({ log: opts.log, makeRuntime: opts.makeRuntime, hub: this.#hub, metrics: this.#metrics, state: this.#state, signal: this.#stopping.signal, stopGraceMs: this.#stopGraceMs });
    this.#observe = new Observability({ config: opts.config, log: opts.log, metrics: this.#metrics });
    this.#swaps = new SwapTracker({
      history: this.#observe.history,
      metrics: this.#metrics,
      refusal: () => (this.#stopping.signal.aborted ? stoppingError() : this.#upgrader.running ? upgradeRunning() : undefined),
    });
    this.#reloader = new Reloader({
      target: this.#reloadTarget(),
      log: this.#log,
      history: this.#observe.history,
      config: () => this.#config,
      applied: (next) => (this.#config = next),
      tls: () => this.#tls,
      refusal: () => (this.#upgrader.running ? upgradeRunning() : this.#stopping.signal.aborted ? stoppingError() : undefined),
    });
    this.#upgrader = new Upgrader({
      options: opts.upgrade,
      history: this.#observe.history,
      config: () => this.#config,
      startConfig: this.#startConfig,
      refusal: () => this.#upgradeRefusal(),
      host: (options, ended) => this.#upgradeHost(options, ended),
      finish: () => this.#finishHandover(),
    });
    this.#api = new BatonApi({
      services: this.#services,
      hub: this.#hub,
      observe: this.#observe,
      metrics: this.#metrics,
      swaps: new SwapCommands(this.#swaps, () => this.#services.swapDeps()),
      reloader: this.#reloader,
      upgrader: this.#upgrader,
      persist: () => this.#services.persist(),
      startedAt: Date.now(),
      listen: () => this.#listen,
      tls: () => this.#tls,
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
      api: this.#api,
      log: this.#log.child({ component: 'control' }),
      ...(config.control.tcp === undefined ? {} : { tcp: { listen: config.control.tcp.listen, tokens: await readTokens(config.control.tcp.tokenFile) } }),
    });
    // A successor's socket is live: its predecessor answers there.
    if (takeover === undefined) await this.#control.check();
    await this.#observe.history.load();
    const saved = await this.#state.read();
    if (takeover === undefined) {
      // A crash left apps of services since removed from the config: nothing will adopt them.
      void stopLeftoverApps(saved, new Set(Object.keys(config.services)), this.#stopGraceMs, this.#log).catch((err: unknown) => this.#log.warn({ err }, 'leftover apps not stopped'));
    }
    // Certificates are read (and a bad one refused, naming its file) before anything starts.
    if (config.tls !== undefined) this.#tls = await TlsEdge.create(config, this.#log.child({ component: 'tls' }));
    if (takeover?.ticketKeys !== undefined) this.#tls?.setTicketKeys(takeover.ticketKeys);
    for (const sc of Object.values(config.services)) this.#services.set(sc.name, await this.#services.make(sc));
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
    const ready =
      takeover === undefined
        ? undefined
        : async (): Promise<void> => {
            await takeover.adopted(adoptedSummary(this.#services));
            await this.#listenPublic(takeover.listeners.public, takeover.listeners.tls);
          };
    await bringUpAll([...this.#services.values()], saved, this.#services.swapDeps(), { adoptOnly: takeover !== undefined, ready });
    await this.#control.listen(takeover === undefined ? {} : { control: takeover.listeners.control, tcp: takeover.listeners['control-tcp'] });
    this.#observe.start(() => this.#api.status());
    if (takeover === undefined) await this.#services.persist();
    this.#log.info({ listen: this.#listen, control: config.control.socket, services: [...this.#services.keys()], takeover: takeover !== undefined }, takeover === undefined ? 'baton started' : 'baton ready to take over');
  }

  /** The public listener, then the TLS one (bound, or `fd`s handed over by a predecessor). */
  async #listenPublic(fd?: number, tlsFd?: number): Promise<void> {
    this.#listen = await listenPublic(this.#proxy!, this.#tls, this.#config, this.#log, { fd, tlsFd });
  }

  /** A successor let go by its predecessor: its history file now holds the predecessor's last record (the upgrade). */
  rereadHistory(): Promise<void> {
    return this.#observe.history.reread();
  }

  /** A successor's predecessor is gone: this process is Baton now (it writes the state file from here on). */
  async takeCharge(): Promise<void> {
    await this.#services.persist();
    this.#log.info({ pid: process.pid }, 'baton in charge');
  }

  /** A successor that cannot take over: let go of what it adopted (see shutdown.ts). */
  async abandon(): Promise<void> {
    this.#services.letGo();
    abandon(this.#running());
  }

  /** Stop: drain, stop the processes Baton started, remove the socket; containers keep running (see shutdown.ts). */
  async stop(): Promise<void> {
    await stopBaton(this.#running(), { stopping: this.#stopping, settled: () => Promise.allSettled([this.#swaps.settled(), this.#services.retired()]), stopGraceMs: this.#stopGraceMs });
  }

  /** SIGHUP: re-read the config file and apply it, as `baton reload` does. */
  reload(by: Caller): Promise<ReloadReport> {
    return this.#reloader.reload(by);
  }

  /** SIGUSR2: replace this process with a new Baton, as `baton upgrade` does. */
  upgrade(emit: (e: UpgradeEvent | UpgradeDone) => void, given: { by: Caller }): Promise<UpgradeDone> {
    return this.#upgrader.upgrade(emit, given);
  }

  /** SIGUSR1: reopen the access log file (logrotate moved it). */
  reopenLogs(): void {
    this.#observe.reopen();
  }

  // --- internals ------------------------------------------------------------------------

  #reloadTarget(): ReloadTarget {
    return {
      services: this.#services,
      makeService: (config) => this.#services.make(config),
      makeRuntime: (config, service) => this.#services.makeRuntime(config, service),
      bringUp: (service) => this.#services.bringUpAdded(service),
      retire: (service) => this.#services.retire(service),
      route: (services) => this.#proxy?.route(services),
      reconfigure: (next) => {
        this.#proxy?.reconfigure(next.limits, next.trustedProxies);
        this.#proxy?.setTraceparent(next.traceparent);
        this.#observe.configure(next);
      },
      persist: () => this.#services.persist(),
    };
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
      persist: () => this.#services.persist(),
      letGo: () => this.#services.letGo(),
      moved: movedListeners(this.#startConfig, this.#config),
    });
  }

  /** After a successful upgrade: end what is left, let the process exit. */
  async #finishHandover(): Promise<void> {
    await finishHandover(this.#running());
    this.#exitAfterHandover();
  }

  /** The running parts, for the ways Baton ends. */
  #running(): RunningParts {
    return { log: this.#log, services: () => [...this.#services.values()], proxy: this.#proxy, control: this.#control, tls: this.#tls, hub: this.#hub, observe: this.#observe };
  }

  /** Why no upgrade may start now: Baton stopping, a reload or a swap running. */
  #upgradeRefusal(): BatonError | undefined {
    if (this.#stopping.signal.aborted) return stoppingError();
    if (this.#reloader.running) return new BatonError('RELOAD_IN_PROGRESS', 'a reload is running: upgrade when it is done');
    const swapping = [...this.#services.values()].filter((s) => s.swapping !== undefined).map((s) => s.name);
    if (this.#swaps.size > 0 || this.#services.retiring > 0) {
      return new BatonError('SWAP_IN_PROGRESS', `a swap is running${swapping.length > 0 ? ` (${swapping.join(', ')})` : ''}: upgrade when it is done`);
    }
    return undefined;
  }
}

function stoppingError(): BatonError {
  return new BatonError('ABORTED', 'Baton is stopping');
}
