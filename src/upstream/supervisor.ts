import type { Logger } from 'pino';
import type { HealthConfig } from '../config/types.js';
import type { Instance, Runtime } from '../runtime/runtime.js';
import type { HealthResult } from './health.js';
import type { Release } from './release.js';
import { Upstream } from './upstream.js';

export interface SupervisorOptions {
  /** What to start a replacement with (read when needed: a reload may change it). */
  target: () => { runtime: Runtime; health: HealthConfig };
  /** Whether `release` still serves (active or canary, Baton not stopping, no swap watching it). */
  serving: (release: Release) => boolean;
  health: (instance: Instance, health: HealthConfig, signal: AbortSignal) => Promise<HealthResult>;
  stopGraceMs: number;
  log: Logger;
  /** A release's instances changed (one replaced): the state file should know. */
  changed?: () => void;
}

const BACKOFF_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** An instance that served this long before it exited counts as a fresh start, not a crash loop. */
const STABLE_MS = 60_000;

/**
 * Keeps a serving release whole: an instance that exits on its own (a crash, kill -9, the
 * OOM killer) is replaced by a fresh instance of the same version, health-gated before it
 * joins, after a backoff (1 s, doubling while it keeps crashing, at most 30 s). A version that
 * keeps crashing is logged at each attempt and shows its restarts in status; it is never
 * restarted in a tight loop.
 */
export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #stopping = new AbortController();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Crashes in a row per replica slot, carried from an instance to its replacement. */
  readonly #streak = new WeakMap<Upstream, number>();
  readonly #startedAt = new WeakMap<Upstream, number>();

  constructor(opts: SupervisorOptions) {
    this.#opts = opts;
  }

  /** Follow every instance of `release` (called when it starts serving). */
  watch(release: Release): void {
    for (const upstream of release.upstreams) this.#follow(release, upstream);
  }

  /** Baton is stopping: no more replacements. */
  stop(): void {
    this.#stopping.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #follow(release: Release, upstream: Upstream): void {
    if (!this.#startedAt.has(upstream)) this.#startedAt.set(upstream, performance.now());
    void upstream.instance.exited.then(() => this.#exited(release, upstream));
  }

  #exited(release: Release, dead: Upstream): void {
    if (this.#stopping.signal.aborted || !this.#opts.serving(release) || !release.upstreams.includes(dead)) return;
    const lived = performance.now() - (this.#startedAt.get(dead) ?? 0);
    const streak = lived > STABLE_MS ? 1 : (this.#streak.get(dead) ?? 0) + 1;
    this.#schedule(release, dead, streak);
  }

  #schedule(release: Release, dead: Upstream, streak: number): void {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MS * 2 ** (streak - 1));
    dead.restarting = { crashes: streak, at: Date.now() + delay };
    const exit = dead.instance.exitInfo;
    this.#opts.log.error(
      { version: dead.version, upstream: dead.address, code: exit?.code ?? null, signal: exit?.signal ?? null, restarts: dead.restarts, crashes_in_a_row: streak, restart_in_ms: delay },
      'instance exited; replacing it',
    );
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#replace(release, dead, streak);
    }, delay);
    timer.unref();
    this.#timers.add(timer);
  }

  async #replace(release: Release, dead: Upstream, streak: number): Promise<void> {
    if (this.#stopping.signal.aborted || !this.#opts.serving(release)) return;
    const { runtime, health } = this.#opts.target();
    const log = this.#opts.log;
    let instance: Instance;
    try {
      instance = await runtime.start({ version: dead.version, signal: this.#stopping.signal });
    } catch (err) {
      log.error({ version: dead.version, err: (err as Error).message }, 'replacement instance did not start');
      return this.#schedule(release, dead, streak + 1);
    }
    const result = await this.#opts.health(instance, health, this.#stopping.signal);
    if (!result.ok || this.#stopping.signal.aborted || !this.#opts.serving(release)) {
      await instance.stop(this.#opts.stopGraceMs);
      if (!result.ok && !this.#stopping.signal.aborted && this.#opts.serving(release)) {
        log.error({ version: dead.version, reason: result.reason, last_probe: result.lastStatus }, 'replacement instance never became healthy');
        this.#schedule(release, dead, streak + 1);
      }
      return;
    }
    const fresh = new Upstream(instance, dead.restarts + 1);
    if (!release.replace(dead, fresh)) {
      await instance.stop(this.#opts.stopGraceMs);
      return;
    }
    this.#streak.set(fresh, streak);
    dead.close();
    log.info({ version: fresh.version, upstream: fresh.address, id: instance.id, restarts: fresh.restarts }, 'instance replaced');
    this.#follow(release, fresh);
    this.#opts.changed?.();
  }
}
