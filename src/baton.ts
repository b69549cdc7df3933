import type { Logger } from 'pino';
import type { Config, ServiceConfig } from './config/types.js';
import type { Instance, Runtime } from './runtime/runtime.js';
import { Service } from './service.js';
import { ProxyServer } from './proxy/server.js';
import { NodeForwarder } from './proxy/forward-node.js';
import { HttpProxy3Forwarder } from './proxy/forward-http-proxy3.js';
import { NetForwarder } from './proxy/forward-net.js';
import { UndiciForwarder } from './proxy/forward-undici.js';
import type { Forwarder, ForwarderHooks } from './proxy/forwarder.js';
import { NoticeHub } from './notify/hub.js';
import { ControlServer } from './control/server.js';
import { readTokenFile } from './control/token.js';
import type { ControlApi, NotifyReply, PauseReply, ResumeReply, StatusBody } from './control/protocol.js';
import { swap, isDone, type SwapEvent } from './swap/swap.js';
import { StateStore, type SavedState } from './state/store.js';
import { Upstream } from './upstream/upstream.js';
import { waitHealthy, probe } from './upstream/health.js';
import { Metrics } from './metrics.js';
import { BatonError } from './errors.js';
import { validateVersion } from './config/schema.js';

export type ForwarderName = 'net' | 'node' | 'http-proxy-3' | 'undici';

export interface BatonOptions {
  config: Config;
  log: Logger;
  /** Builds the runtime of a service (process or Docker). */
  makeRuntime: (service: ServiceConfig, log: Logger) => Promise<Runtime>;
  forwarder?: ForwarderName;
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
  #control: ControlServer | undefined;
  #listen = '';
  #startedAt = Date.now();

  constructor(opts: BatonOptions) {
    this.#opts = opts;
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
    const { config } = this.#opts;
    this.#control = new ControlServer({
      path: config.control.socket,
      api: this,
      log: this.#log.child({ component: 'control' }),
      ...(config.control.tcp === undefined ? {} : { tcp: { listen: config.control.tcp.listen, token: await readTokenFile(config.control.tcp.tokenFile) } }),
    });
    await this.#control.check();
    const saved = await this.#state.read();
    for (const sc of Object.values(config.services)) {
      const log = this.#log.child({ service: sc.name });
      this.#services.set(sc.name, new Service(sc, await this.#opts.makeRuntime(sc, log), log));
    }
    // Services come up in parallel; Baton is ready only when all are.
    await Promise.all([...this.#services.values()].map((s) => this.#bringUp(s, saved)));
    this.#proxy = new ProxyServer({
      listen: config.listen,
      services: [...this.#services.values()],
      limits: config.limits,
      trustedProxies: config.trustedProxies,
      hub: this.#hub,
      log: this.#log.child({ component: 'proxy' }),
      makeForwarder: (hooks) => makeForwarder(this.#opts.forwarder ?? DEFAULT_FORWARDER, hooks),
      observer: this.#metrics,
    });
    const bound = await this.#proxy.listen();
    this.#listen = bound.host.includes(':') ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`;
    await this.#control.listen();
    await this.#persist();
    this.#log.info({ listen: this.#listen, control: config.control.socket, forwarder: this.#proxy.forwarderName, services: [...this.#services.keys()] }, 'baton started');
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
    const drainMs = Math.max(0, ...[...this.#services.values()].map((s) => s.config.drain.timeoutMs));
    const deadline = AbortSignal.timeout(drainMs);
    await Promise.all(
      [...this.#services.values()].flatMap((s) => s.upstreams().map((u) => u.drain({ timeoutMs: drainMs, websocketGraceMs: 0, signal: deadline }))),
    );
    // Swaps in progress end their drains early; wait for them so no state write is cut.
    this.#stopping.abort();
    await Promise.allSettled([...this.#swaps]);
    proxy?.closeAll();
    await closing;
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
      baton: { version: BATON_VERSION, pid: process.pid, listen: this.#listen, forwarder: this.#proxy?.forwarderName ?? '', uptime_s: Math.round((Date.now() - this.#startedAt) / 1000) },
    };
  }

  deploy(name: string, version: string, emit: (e: SwapEvent) => void): Promise<SwapEvent> {
    const service = this.#service(name);
    const bad = validateVersion(version);
    if (bad !== undefined) return Promise.reject(new BatonError('BAD_VERSION', `version ${JSON.stringify(version)}: ${bad}`));
    return this.#runSwap(service, version, 'deploy', emit);
  }

  rollback(name: string, emit: (e: SwapEvent) => void): Promise<SwapEvent> {
    const service = this.#service(name);
    const previous = service.previousVersion;
    if (previous === undefined) return Promise.reject(new BatonError('NO_PREVIOUS_VERSION', `${name} has no previous version to roll back to`));
    return this.#runSwap(service, previous, 'rollback', emit);
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

  instances(name: string): readonly Instance[] {
    const active = this.#service(name).active;
    return active === undefined ? [] : [active.instance];
  }

  // --- internals ------------------------------------------------------------------------

  #service(name: string): Service {
    const s = this.#services.get(name);
    if (s === undefined) throw new BatonError('UNKNOWN_SERVICE', `unknown service ${JSON.stringify(name)} (known: ${[...this.#services.keys()].join(', ')})`);
    return s;
  }

  #runSwap(service: Service, version: string, kind: 'deploy' | 'rollback', emit: (e: SwapEvent) => void): Promise<SwapEvent> {
    if (this.#stopping.signal.aborted) return Promise.reject(new BatonError('ABORTED', 'Baton is stopping'));
    const run = swap(service, version, kind, { notify: (n) => this.#hub.broadcast(n), persist: () => this.#persist(), signal: this.#stopping.signal, stopGraceMs: this.#stopGrace() }, emit);
    this.#swaps.add(run);
    void run.then(
      (done) => {
        this.#swaps.delete(run);
        if (isDone(done)) this.#metrics.swapped(service.name, kind, done.ok, done.ms);
      },
      () => this.#swaps.delete(run),
    );
    return run;
  }

  /**
   * Serve the remembered version, else the version of a healthy running instance, else the
   * configured one. A running instance of the chosen version that answers its health check is
   * adopted, not restarted; every other instance Baton left behind for the service is removed.
   */
  async #bringUp(service: Service, saved: SavedState): Promise<void> {
    const log = service.log;
    const remembered = saved.services[service.name];
    const running = await service.runtime.findRunning();
    let instance: Instance | undefined;
    // Newest first, so an older one of the same version (a deploy cut short) is the fallback.
    for (const candidate of running) {
      if (remembered !== undefined && candidate.version !== remembered.version) continue;
      if (await isUp(candidate, service)) {
        instance = candidate;
        break;
      }
    }
    const version = instance?.version ?? remembered?.version ?? service.config.version;
    if (instance !== undefined) log.info({ version, id: instance.id }, 'running instance adopted');
    else instance = await this.#startHealthy(service, version);
    service.activate(new Upstream(instance), remembered?.previous);
    // The rest are leftovers (replaced while Baton was down, or cut short by a crash): remove
    // them in the background, so serving the adopted one does not wait on their stop grace.
    // Started before the control socket opens, so no deploy's new container is among them.
    const kept = instance;
    const removing = service.runtime.removeStale
      ? service.runtime.removeStale([kept], this.#stopGrace())
      : Promise.all(running.filter((other) => other !== kept).map((other) => other.stop(this.#stopGrace())));
    void removing.catch((err: unknown) => log.warn({ err }, 'stale instances not removed'));
  }

  async #startHealthy(service: Service, version: string): Promise<Instance> {
    const instance = await service.runtime.start({ version, signal: this.#stopping.signal });
    const health = await waitHealthy(instance, service.config.health, this.#stopping.signal);
    if (health.ok) return instance;
    await instance.stop(this.#stopGrace());
    const output = instance.recentOutput().slice(-5).join('\n  ');
    throw new BatonError('HEALTH_DEADLINE', `${service.name} ${version} did not become healthy (${health.reason}; last probe: ${health.lastStatus})${output === '' ? '' : `\n  ${output}`}`, {
      details: { service: service.name, version },
    });
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

async function isUp(instance: Instance, service: Service): Promise<boolean> {
  const status = await probe(instance.host, instance.port, service.config.health.path, service.config.health.timeoutMs);
  if (typeof status !== 'number' || status < 200 || status >= 300) return false;
  const native = await instance.nativeHealth();
  return native === 'healthy' || native === 'none';
}

/**
 * The lean forwarder is the default: fastest behind the Forwarder interface and passing every
 * correctness test (issue 5; the numbers are in the README). `node` stays for services with
 * `notify.inject` (the proxy hands those to it) and as a fallback; `http-proxy-3` and `undici` for
 * comparison.
 */
const DEFAULT_FORWARDER: ForwarderName = 'net';

function makeForwarder(name: ForwarderName, hooks: ForwarderHooks): Forwarder {
  switch (name) {
    case 'net':
      return new NetForwarder(hooks);
    case 'http-proxy-3':
      return new HttpProxy3Forwarder(hooks);
    case 'node':
      return new NodeForwarder(hooks);
    case 'undici':
      return new UndiciForwarder(hooks);
  }
}
