/**
 * The services Baton runs, by name, and what each needs of Baton: how one is made (its runtime
 * and its supervision), what its swaps depend on, the state file that remembers them, and the
 * bring-up and retiring of one a reload adds or removes.
 */
import type { Logger } from 'pino';
import type { ServiceConfig } from './config/types.js';
import { bringUp } from './bring-up.js';
import type { Metrics } from './metrics.js';
import type { NoticeHub } from './notify/hub.js';
import type { Runtime } from './runtime/runtime.js';
import { Service } from './service.js';
import { snapshotOf } from './state/snapshot.js';
import type { SavedState, StateStore } from './state/store.js';
import type { Supervision } from './supervision.js';
import type { SwapDeps } from './swap/swap.js';
import { probe, waitHealthy } from './upstream/health.js';

export interface ServicesOptions {
  log: Logger;
  /** Builds the runtime of a service (process or Docker). */
  makeRuntime: (service: ServiceConfig, log: Logger) => Promise<Runtime>;
  hub: NoticeHub;
  metrics: Metrics;
  state: StateStore;
  /** Baton's stop: ends drains and swaps early. */
  signal: AbortSignal;
  /** Grace between SIGTERM (docker stop) and the forceful kill of an old version. */
  stopGraceMs: number;
}

/** A map of the services by name (what routing, status and the state file read), with what they need. */
export class Services extends Map<string, Service> {
  readonly #opts: ServicesOptions;
  /** Services removed by a reload, still draining and stopping. */
  readonly #retiring = new Set<Promise<void>>();
  /** Set once a successor is Baton: this process writes the state file no more. */
  #letGo = false;

  constructor(opts: ServicesOptions) {
    super();
    this.#opts = opts;
  }

  /** A service of `config`, with its runtime and its supervision (not started, not added). */
  async make(config: ServiceConfig): Promise<Service> {
    const log = this.#opts.log.child({ service: config.name });
    return new Service(config, await this.#opts.makeRuntime(config, log), log, this.#supervision());
  }

  /** A runtime for `config` (a reload changed the runtime kind of `service`). */
  makeRuntime(config: ServiceConfig, service: Service): Promise<Runtime> {
    return this.#opts.makeRuntime(config, service.log);
  }

  /** What the swaps of a service need of Baton. */
  swapDeps(): SwapDeps {
    return {
      notify: (n, only) => this.#opts.hub.broadcast(n, only),
      persist: () => this.persist(),
      health: waitHealthy,
      signal: this.#opts.signal,
      stopGraceMs: this.#opts.stopGraceMs,
      migrated: (service, ok, ms) => this.#opts.metrics.migrated(service, ok, ms),
    };
  }

  /** Remember what runs in the state file (nothing once let go: the successor does). */
  persist(): Promise<void> {
    if (this.#letGo) return Promise.resolve();
    return this.#opts.state.write(snapshotOf(this));
  }

  /** A successor is Baton now: this process decides nothing more (no state write). */
  letGo(): void {
    this.#letGo = true;
  }

  /** A service a reload added: brought up (from what the state file remembers of it), held at its gate meanwhile. */
  async bringUpAdded(service: Service): Promise<void> {
    const saved = await this.#opts.state.read().catch(() => ({ services: {} }) as SavedState);
    service.gate.hold('swap');
    try {
      await bringUp(service, saved.services[service.name], this.swapDeps());
    } finally {
      service.gate.release('swap');
    }
  }

  /** A service a reload removed (no longer in this map): its held requests go on, its traffic drains, its instances stop, in the background. */
  retire(service: Service): void {
    const done = retireService(service, this.#opts.signal, this.#opts.stopGraceMs);
    this.#retiring.add(done);
    void done.finally(() => this.#retiring.delete(done));
  }

  /** How many removed services are still retiring. */
  get retiring(): number {
    return this.#retiring.size;
  }

  /** Every service retiring now, settled. */
  retired(): Promise<unknown> {
    return Promise.allSettled([...this.#retiring]);
  }

  #supervision(): Supervision {
    return { probe, health: (instance, health, signal) => waitHealthy(instance, health, signal), stopGraceMs: this.#opts.stopGraceMs, changed: () => void this.persist().catch(() => {}) };
  }
}

async function retireService(service: Service, signal: AbortSignal, stopGraceMs: number): Promise<void> {
  service.shutdown();
  const { drain } = service.config;
  await Promise.all(service.releases().map((r) => r.drain({ timeoutMs: drain.timeoutMs, websocketGraceMs: drain.websocketGraceMs, signal })));
  await Promise.all(service.releases().map((r) => r.stop(stopGraceMs)));
  service.runtime.close?.();
  service.log.info('service removed');
}
