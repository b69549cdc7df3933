/**
 * The control API as Baton answers it (control/protocol.ts): each request goes to the part it
 * concerns (a service, the swap commands, the reloader, the upgrader, the notice hub, the
 * history), and every change an operator makes is recorded in the history.
 */
import type { ControlApi, HistoryQuery, MaintenanceReply, NotifyReply, PauseReply, ResumeReply, StatusBody } from './control/protocol.js';
import { BatonError } from './errors.js';
import { readMaintenancePage } from './maintenance.js';
import type { Metrics } from './metrics.js';
import type { NoticeHub } from './notify/hub.js';
import type { Caller, HistoryBody } from './observe/history.js';
import type { LiveEvent } from './observe/live.js';
import type { Observability } from './observe/observability.js';
import type { SeriesBody } from './observe/series.js';
import type { ReloadReport, Reloader } from './reload.js';
import type { Instance } from './runtime/runtime.js';
import type { Service } from './service.js';
import type { SwapCommands } from './swap/commands.js';
import type { SwapEvent } from './swap/swap.js';
import type { TlsEdge } from './tls/edge.js';
import type { UpgradeDone, UpgradeEvent } from './upgrade/handover.js';
import { upgradeRunning } from './upgrade/host.js';
import type { Upgrader } from './upgrade/upgrader.js';

/** Who asked, when the control server does not say: the control socket. */
const SOCKET: Caller = { via: 'socket' };

/** Baton's own version, shown in status. */
const BATON_VERSION = '0.1.0';

/** The parts of the running Baton the control API acts on. */
export interface ApiParts {
  services: ReadonlyMap<string, Service>;
  hub: NoticeHub;
  observe: Observability;
  metrics: Metrics;
  swaps: SwapCommands;
  reloader: Reloader;
  upgrader: Upgrader;
  persist(): Promise<void>;
  /** Epoch ms. */
  startedAt: number;
  /** Where the public listener is bound ('' before start). */
  listen(): string;
  tls(): TlsEdge | undefined;
}

/** The control API of one running Baton; the control server calls it, the CLI reaches it through that. */
export class BatonApi implements ControlApi {
  readonly #p: ApiParts;

  constructor(parts: ApiParts) {
    this.#p = parts;
  }

  status(): StatusBody {
    const services: StatusBody['services'] = {};
    for (const [name, s] of this.#p.services) services[name] = s.status();
    const { startedAt } = this.#p;
    const tls = this.#p.tls();
    return {
      services,
      baton: { version: BATON_VERSION, pid: process.pid, started_at: new Date(startedAt).toISOString(), listen: this.#p.listen(), uptime_s: Math.round((Date.now() - startedAt) / 1000) },
      ...(tls === undefined ? {} : { tls: tls.status() }),
    };
  }

  deploy(name: string, version: string, emit: (e: SwapEvent) => void, opts: { canary?: number; by?: Caller } = {}): Promise<SwapEvent> {
    return this.#p.swaps.deploy(this.#service(name), version, emit, { ...opts, by: opts.by ?? SOCKET });
  }

  rollback(name: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent> {
    return this.#p.swaps.rollback(this.#service(name), emit, by ?? SOCKET);
  }

  promote(name: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent> {
    return this.#p.swaps.promote(this.#service(name), emit, by ?? SOCKET);
  }

  /** Re-read the config file and apply it (see reload.ts). */
  reload(by: Caller = SOCKET): Promise<ReloadReport> {
    return this.#p.reloader.reload(by);
  }

  /** Replace this process with a new Baton from the installed code (see upgrade/upgrader.ts). */
  upgrade(emit: (e: UpgradeEvent | UpgradeDone) => void, given: { readyTimeoutMs?: number; by?: Caller } = {}): Promise<UpgradeDone> {
    return this.#p.upgrader.upgrade(emit, { ...given, by: given.by ?? SOCKET });
  }

  /** Maintenance on (every request gets the maintenance page) or off; kept across restarts. */
  async maintenance(name: string, on: boolean, message: string, by: Caller = SOCKET): Promise<MaintenanceReply> {
    const service = this.#service(name);
    if (this.#p.upgrader.running) throw upgradeRunning();
    if (on) {
      service.setMaintenance({ message, since: Date.now(), page: await readMaintenancePage(service) });
      this.#p.hub.broadcast({ type: 'notice', service: name, version: service.active?.version ?? '', message: message === '' ? 'Down for maintenance' : message });
    } else service.setMaintenance(undefined);
    this.#p.observe.history.record('maintenance', name, { version: service.active?.version ?? null, by, detail: on ? { on, message } : { on } });
    await this.#p.persist();
    return { service: name, maintenance: on, message: service.maintenance?.message ?? null, state: service.state };
  }

  pause(name: string, timeoutMs: number | undefined, by: Caller = SOCKET): PauseReply {
    const service = this.#service(name);
    if (this.#p.upgrader.running) throw upgradeRunning();
    service.pause(timeoutMs);
    this.#p.observe.history.record('pause', name, { version: service.active?.version ?? null, by, detail: { timeout_ms: timeoutMs ?? null } });
    return { service: name, state: 'paused', timeout_ms: timeoutMs ?? null };
  }

  resume(name: string, by: Caller = SOCKET): ResumeReply {
    const service = this.#service(name);
    if (this.#p.upgrader.running) throw upgradeRunning();
    const released = service.resume();
    this.#p.observe.history.record('resume', name, { version: service.active?.version ?? null, by, detail: { released } });
    return { service: name, state: service.state, released };
  }

  notify(name: string, message: string): NotifyReply {
    const service = this.#service(name);
    const browsers = this.#p.hub.broadcast({ type: 'notice', service: name, version: service.active?.version ?? '', message });
    return { service: name, browsers };
  }

  metrics(): Promise<{ contentType: string; body: string }> {
    return this.#p.metrics.text();
  }

  history(query: HistoryQuery): HistoryBody {
    const name = query.service;
    if (name !== undefined && !this.#p.services.has(name) && !this.#p.observe.history.knows(name)) this.#service(name);
    return { history: this.#p.observe.history.query(query) };
  }

  series(): SeriesBody {
    return this.#p.observe.series(this.#p.services.keys());
  }

  subscribe(listener: (e: LiveEvent) => void): () => void {
    return this.#p.observe.subscribe(listener);
  }

  /** The instances of the active version (and of a canary), for `baton logs`. */
  instances(name: string): readonly Instance[] {
    const service = this.#service(name);
    return [...(service.active?.upstreams ?? []), ...(service.canary?.release.upstreams ?? [])].map((u) => u.instance);
  }

  #service(name: string): Service {
    const s = this.#p.services.get(name);
    if (s === undefined) throw new BatonError('UNKNOWN_SERVICE', `unknown service ${JSON.stringify(name)} (known: ${[...this.#p.services.keys()].join(', ')})`);
    return s;
  }
}
