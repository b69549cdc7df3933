/**
 * The supervision of a service's serving releases: each is health-probed while it serves, and
 * its instances that die are replaced (upstream/monitor.ts, upstream/supervisor.ts).
 */
import type { Logger } from 'pino';
import type { HealthConfig, ServiceConfig } from './config/types.js';
import type { Instance, Runtime } from './runtime/runtime.js';
import type { HealthResult } from './upstream/health.js';
import { HealthMonitor, type Probe } from './upstream/monitor.js';
import type { Release } from './upstream/release.js';
import { Supervisor } from './upstream/supervisor.js';

/** What keeps a serving release whole: running health checks and the replacement of crashed instances. */
export interface Supervision {
  probe: Probe;
  health: (instance: Instance, health: ServiceConfig['health'], signal: AbortSignal) => Promise<HealthResult>;
  stopGraceMs: number;
  /** The instances serving changed (a crashed one replaced): remember them. */
  changed?: () => void;
}

/** One service's supervision: started per release by serve(), ended by retire() and stop(). */
export class ReleaseSupervision {
  readonly #supervision: Supervision;
  readonly #health: () => HealthConfig;
  readonly #log: Logger;
  readonly #monitors = new Map<Release, HealthMonitor>();
  readonly #supervisor: Supervisor;

  /**
   * `target`: what a replacement is started with (read when needed: a reload may change it);
   * `serving`: whether a release still serves (the supervisor leaves the others alone).
   */
  constructor(supervision: Supervision, opts: { target: () => { runtime: Runtime; health: HealthConfig }; serving: (release: Release) => boolean; log: Logger }) {
    this.#supervision = supervision;
    this.#health = () => opts.target().health;
    this.#log = opts.log;
    this.#supervisor = new Supervisor({
      target: opts.target,
      serving: opts.serving,
      health: supervision.health,
      stopGraceMs: supervision.stopGraceMs,
      log: opts.log.child({ component: 'supervisor' }),
      ...(supervision.changed === undefined ? {} : { changed: supervision.changed }),
    });
  }

  /** `release` serves: probe it, and replace its instances that die. */
  serve(release: Release): void {
    if (this.#monitors.has(release)) return;
    const monitor = new HealthMonitor(release, this.#health, this.#supervision.probe, this.#log.child({ component: 'health' }));
    this.#monitors.set(release, monitor);
    monitor.start();
    this.#supervisor.watch(release);
  }

  /** `release` no longer serves new requests: stop probing it (the supervisor sees it is not serving). */
  retire(release: Release): void {
    this.#monitors.get(release)?.stop();
    this.#monitors.delete(release);
  }

  /** Baton is stopping: no more probes, no more replacements. */
  stop(): void {
    this.#supervisor.stop();
    for (const m of this.#monitors.values()) m.stop();
    this.#monitors.clear();
  }
}
