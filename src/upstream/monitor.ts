import type { Logger } from 'pino';
import type { HealthConfig } from '../config/types.js';
import type { Release } from './release.js';
import type { Upstream } from './upstream.js';

/** One HTTP probe: the status code, or why there was none (health.ts's `probe`). */
export type Probe = (host: string, port: number, path: string, timeoutMs: number) => Promise<number | string>;

interface Streak {
  ok: number;
  failed: number;
  probing: boolean;
}

/**
 * The health checks of a release while it serves: every `health.interval_running`, each
 * instance is probed at `health.path`; after `unhealthy_threshold` failures in a row it leaves
 * the rotation, after `healthy_threshold` successes in a row it rejoins. One timer per release.
 */
export class HealthMonitor {
  readonly #release: Release;
  readonly #health: () => HealthConfig;
  readonly #probe: Probe;
  readonly #log: Logger;
  readonly #streaks = new WeakMap<Upstream, Streak>();
  #timer: NodeJS.Timeout | undefined;
  #every = 0;

  /** `health` is read at each round, so a reload's new settings apply at once. */
  constructor(release: Release, health: () => HealthConfig, probe: Probe, log: Logger) {
    this.#release = release;
    this.#health = health;
    this.#probe = probe;
    this.#log = log;
  }

  start(): void {
    this.#arm();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#every = this.#health().intervalRunningMs;
    this.#timer = setTimeout(this.#round, this.#every);
    this.#timer.unref();
  }

  #round = (): void => {
    const health = this.#health();
    for (const upstream of this.#release.upstreams) void this.#check(upstream, health);
    this.#arm();
  };

  async #check(upstream: Upstream, health: HealthConfig): Promise<void> {
    if (upstream.instance.exitInfo !== undefined) return;
    let streak = this.#streaks.get(upstream);
    if (streak === undefined) this.#streaks.set(upstream, (streak = { ok: 0, failed: 0, probing: false }));
    if (streak.probing) return;
    streak.probing = true;
    const status = await this.#probe(upstream.host, upstream.port, health.path, health.timeoutMs);
    streak.probing = false;
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    if (ok) {
      streak.ok++;
      streak.failed = 0;
      if (!upstream.healthy && streak.ok >= health.healthyThreshold) {
        upstream.healthy = true;
        this.#log.info({ version: upstream.version, upstream: upstream.address, probes_ok: streak.ok }, 'instance rejoined the rotation');
      }
    } else {
      streak.failed++;
      streak.ok = 0;
      if (upstream.healthy && streak.failed >= health.unhealthyThreshold) {
        upstream.healthy = false;
        this.#log.warn({ version: upstream.version, upstream: upstream.address, last_probe: typeof status === 'number' ? `HTTP ${status}` : status, failures: streak.failed }, 'instance left the rotation');
      }
    }
  }
}
