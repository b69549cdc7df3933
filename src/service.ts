import type { Logger } from 'pino';
import type { ServiceConfig } from './config/types.js';
import type { Instance, Runtime } from './runtime/runtime.js';
import { Gate } from './swap/gate.js';
import type { Release } from './upstream/release.js';
import type { Upstream } from './upstream/upstream.js';
import { HealthMonitor, type Probe } from './upstream/monitor.js';
import { Supervisor } from './upstream/supervisor.js';
import type { HealthResult } from './upstream/health.js';
import { BatonError } from './errors.js';

/** Which side of a canary a request is on. */
export type Side = 'stable' | 'canary';

/** What keeps a serving release whole: running health checks and the replacement of crashed instances. */
export interface Supervision {
  probe: Probe;
  health: (instance: Instance, health: ServiceConfig['health'], signal: AbortSignal) => Promise<HealthResult>;
  stopGraceMs: number;
  /** The instances serving changed (a crashed one replaced): remember them. */
  changed?: () => void;
}

export type ServiceState = 'serving' | 'swapping' | 'migrating' | 'paused' | 'maintenance';
export type SwapKind = 'deploy' | 'rollback' | 'canary' | 'promote';

/** The body of one service in GET /v1/status (the contract's fields first). */
export interface ServiceStatus {
  state: ServiceState;
  active: { version: string; address: string; id: string } | null;
  previous: { version: string } | null;
  inflight: number;
  queued: number;
  /** Whether every instance of the active version runs and passes its health checks. */
  healthy: boolean;
  /** The active version's instances. */
  replicas: ReplicaStatus[];
  canary: { version: string; percent: number; replicas: ReplicaStatus[] } | null;
  websockets: number;
  hosts: string[];
  paths: string[];
  swapping: (SwapProgress & { elapsed_ms: number }) | null;
  maintenance: { message: string; since: string } | null;
  paused_until: string | null;
  draining: Array<{ version: string; inflight: number; websockets: number }>;
}

export interface ReplicaStatus {
  address: string;
  id: string;
  healthy: boolean;
  inflight: number;
  restarts: number;
  /** Out of the rotation for a backoff after a failed connection (passive health). */
  ejected: boolean;
  /** The slot's instance exited and supervision waits to replace it: crashes in a row (0: running). */
  crashes_in_a_row: number;
  /** When the replacement is due (ISO time), while it waits its backoff; else null. */
  restart_at: string | null;
}

/** The swap in progress, as status shows it (the CLI prints it while a deploy waits). */
export interface SwapProgress {
  version: string;
  kind: SwapKind;
  /** The step under way (the steps completed are in the deploy's event stream), and since when (epoch ms). */
  step: string;
  step_started_at: number;
  /** Health probes sent so far, and what the last one said. */
  probes: number;
  last_probe: string | null;
}

export interface Maintenance {
  message: string;
  /** Epoch ms. */
  since: number;
  /** The service's own page (maintenance.page), read when maintenance began. */
  page: string | undefined;
}

/** What `switchTo` did: the one assignment, and the hold around it. */
export interface Switched {
  replaced: Release | undefined;
  /** Requests that waited at the gate and were released to the new release. */
  released: number;
  holdMs: number;
}

/**
 * One service: which release is active, which version was active before, its hold gate, and
 * the lock that keeps to one swap at a time. The switch itself is the single assignment in
 * `switchTo`, inside the hold.
 */
export class Service {
  readonly name: string;
  config: ServiceConfig;
  /** What new instances are started with (a reload may give the next deploy another). */
  runtime: Runtime;
  readonly gate: Gate;
  readonly log: Logger;
  #active: Release | undefined;
  #canary: { release: Release; percent: number } | undefined;
  readonly #monitors = new Map<Release, HealthMonitor>();
  readonly #supervision: Supervision | undefined;
  readonly #supervisor: Supervisor | undefined;
  /** A swap watches this release for deaths itself (it reverts): supervision leaves it alone. */
  #watchedBySwap: Release | undefined;
  /** The version active before the last switch: what `rollback` goes back to. */
  #previous: string | undefined;
  #swap: SwapProgress | undefined;
  #pauseTimer: NodeJS.Timeout | undefined;
  #pausedUntil: number | undefined;
  #draining = new Set<Release>();
  /** Baton is stopping: instances exiting now were asked to. */
  #stopping = false;
  #maintenance: Maintenance | undefined;

  /** Without `supervision` (unit tests), serving releases are neither probed nor repaired. */
  constructor(config: ServiceConfig, runtime: Runtime, log: Logger, supervision?: Supervision) {
    this.name = config.name;
    this.config = config;
    this.runtime = runtime;
    this.log = log;
    this.gate = new Gate({ timeoutMs: config.hold.timeoutMs, maxQueued: config.hold.maxQueued });
    this.#supervision = supervision;
    this.#supervisor =
      supervision === undefined
        ? undefined
        : new Supervisor({
            target: () => ({ runtime: this.runtime, health: this.config.health }),
            serving: (r) => !this.#stopping && r !== this.#watchedBySwap && (r === this.#active || r === this.#canary?.release),
            health: supervision.health,
            stopGraceMs: supervision.stopGraceMs,
            log: log.child({ component: 'supervisor' }),
            ...(supervision.changed === undefined ? {} : { changed: supervision.changed }),
          });
  }

  /**
   * Take new settings (a reload): routing, health, hold, drain and notify apply at once; how
   * versions are started (`runtime`) applies to the next one started.
   */
  reconfigure(config: ServiceConfig, runtime: Runtime): void {
    this.config = config;
    this.runtime = runtime;
    this.gate.setLimits({ timeoutMs: config.hold.timeoutMs, maxQueued: config.hold.maxQueued });
    for (const r of this.releases()) r.balancing = config.loadBalancing;
  }

  /** The pause under way: until when (epoch ms; null: until resume). */
  get paused(): { until: number | null } | undefined {
    return this.gate.isHeldBy('pause') ? { until: this.#pausedUntil ?? null } : undefined;
  }

  get canary(): { release: Release; percent: number } | undefined {
    return this.#canary;
  }

  get active(): Release | undefined {
    return this.#active;
  }
  get previousVersion(): string | undefined {
    return this.#previous;
  }
  get swapping(): SwapProgress | undefined {
    return this.#swap;
  }

  get state(): ServiceState {
    if (this.#maintenance !== undefined) return 'maintenance';
    if (this.#swap !== undefined) return this.#swap.step === 'quiesce' || this.#swap.step === 'migrate' ? 'migrating' : 'swapping';
    return this.gate.isHeldBy('pause') ? 'paused' : 'serving';
  }

  /** Maintenance mode: every request gets the maintenance page (503), the health path aside. */
  get maintenance(): Maintenance | undefined {
    return this.#maintenance;
  }

  setMaintenance(m: Maintenance | undefined): void {
    this.#maintenance = m;
    this.log.info(m === undefined ? {} : { message: m.message }, m === undefined ? 'maintenance ended' : 'maintenance started');
  }

  /** The upstream for a request: one of its side's release, avoiding `avoid` when it can. */
  pick(avoid: Upstream | undefined, side: Side = 'stable'): Upstream | undefined {
    if (side === 'canary' && this.#canary !== undefined) return this.#canary.release.pick(avoid);
    return this.#active?.pick(avoid);
  }

  /** Whether a request on `side` has a release to go to. */
  hasRelease(side: Side): boolean {
    return side === 'canary' && this.#canary !== undefined ? true : this.#active !== undefined;
  }

  /** The release `upstream` belongs to (active, canary or draining). */
  releaseOf(upstream: Upstream): Release | undefined {
    for (const r of this.releases()) if (r.upstreams.includes(upstream)) return r;
    return undefined;
  }

  /** Serve `release` from the start (Baton starting: nothing to hold, nothing replaced). */
  adopt(release: Release, previous: string | undefined): void {
    this.#setActive(release);
    this.#previous = previous;
  }

  /** A canary: `percent` of clients go to `release` while the active release keeps the rest. */
  startCanary(release: Release, percent: number): void {
    this.#canary = { release, percent };
    this.#serve(release);
  }

  /** The canary ends (rolled back): its clients go back to the active release. Returns it, to drain. */
  endCanary(): Release | undefined {
    const canary = this.#canary?.release;
    this.#canary = undefined;
    if (canary !== undefined) this.#retire(canary);
    return canary;
  }

  /** A swap watches `release` for deaths (to revert) until it calls this again with undefined. */
  watchForRevert(release: Release | undefined): void {
    this.#watchedBySwap = release;
  }

  /**
   * The switch: hold new requests, make `release` the active one, release the held requests
   * to it. Synchronous by design: the hold lasts only as long as the assignment. The replaced
   * version becomes the previous one, unless it is the same version (a redeploy of the active
   * version keeps the rollback target: issue 15).
   */
  switchTo(release: Release): Switched {
    this.gate.hold('swap');
    const released = this.gate.queued;
    const replaced = this.#active;
    this.#setActive(release);
    if (this.#canary?.release === release) this.#canary = undefined; // promoted
    if (replaced !== undefined && replaced.version !== release.version) this.#previous = replaced.version;
    const holdMs = this.gate.release('swap') ?? 0;
    if (replaced !== undefined) this.#retire(replaced);
    return { replaced, released, holdMs };
  }

  /**
   * Undo a switch whose new release died while the replaced one was still draining: `release`
   * (still running) is active again and `previous` is what it was before. Returns the hold (ms).
   */
  revert(release: Release, previous: string | undefined): number {
    this.gate.hold('swap');
    const failed = this.#active;
    this.#setActive(release);
    this.#previous = previous;
    const holdMs = this.gate.release('swap') ?? 0;
    if (failed !== undefined && failed !== release) this.#retire(failed);
    return holdMs;
  }

  #setActive(release: Release): void {
    this.#active = release;
    this.#serve(release);
  }

  /** `release` serves: probe it, and replace its instances that die. */
  #serve(release: Release): void {
    const supervision = this.#supervision;
    if (supervision === undefined || this.#monitors.has(release)) return;
    const monitor = new HealthMonitor(release, () => this.config.health, supervision.probe, this.log.child({ component: 'health' }));
    this.#monitors.set(release, monitor);
    monitor.start();
    this.#supervisor!.watch(release);
  }

  /** `release` no longer serves new requests: stop probing it (supervision sees it is not serving). */
  #retire(release: Release): void {
    this.#monitors.get(release)?.stop();
    this.#monitors.delete(release);
  }

  /** Take the swap lock or fail with 409 naming the swap that holds it. */
  lock(version: string, kind: SwapKind): () => void {
    if (this.#swap !== undefined) {
      throw new BatonError('SWAP_IN_PROGRESS', `a ${this.#swap.kind} of ${this.name} to ${this.#swap.version} is already running`, {
        details: { service: this.name, version: this.#swap.version },
      });
    }
    const swap: SwapProgress = { version, kind, step: 'start', step_started_at: Date.now(), probes: 0, last_probe: null };
    this.#swap = swap;
    return () => {
      if (this.#swap === swap) this.#swap = undefined;
    };
  }

  /** Hold new requests until resume(), or until `timeoutMs` has passed when given. */
  pause(timeoutMs?: number): void {
    clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
    this.#pausedUntil = undefined;
    // A pause's own timeout bounds how long its requests wait (it resumes them then); without
    // one, hold.timeout does (issue 15: a 30 s pause answered 503 after 10 s).
    this.gate.hold('pause', timeoutMs === undefined ? undefined : Number.POSITIVE_INFINITY);
    if (timeoutMs !== undefined) {
      this.#pausedUntil = Date.now() + timeoutMs;
      this.#pauseTimer = setTimeout(() => {
        this.log.info({ timeout_ms: timeoutMs }, 'pause timed out; resumed');
        this.resume();
      }, timeoutMs);
    }
    this.log.info({ timeout_ms: timeoutMs ?? null }, 'service paused');
  }

  /** Release the pause; returns how many held requests were released. */
  resume(): number {
    clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
    this.#pausedUntil = undefined;
    const queued = this.gate.queued;
    const heldMs = this.gate.release('pause');
    this.log.info({ released: queued, held_ms: heldMs ?? null }, 'service resumed');
    return queued;
  }

  trackDraining(release: Release): () => void {
    this.#draining.add(release);
    return () => this.#draining.delete(release);
  }

  /** Releases this service still has traffic on: the active one, the canary, and any being drained. */
  releases(): Release[] {
    const out: Release[] = [];
    if (this.#active !== undefined) out.push(this.#active);
    if (this.#canary !== undefined) out.push(this.#canary.release);
    for (const r of this.#draining) if (!out.includes(r)) out.push(r);
    return out;
  }

  upstreams(): Upstream[] {
    return this.releases().flatMap((r) => r.upstreams);
  }

  status(): ServiceStatus {
    const a = this.#active;
    const releases = this.releases();
    const first = a?.upstreams[0];
    const canary = this.#canary;
    return {
      state: this.state,
      active: a === undefined || first === undefined ? null : { version: a.version, address: first.address, id: first.instance.id },
      previous: this.#previous === undefined ? null : { version: this.#previous },
      inflight: releases.reduce((n, r) => n + r.inflight, 0),
      queued: this.gate.queued,
      healthy: a !== undefined && a.upstreams.every((u) => u.healthy && u.instance.exitInfo === undefined),
      replicas: a === undefined ? [] : replicaStatus(a),
      canary: canary === undefined ? null : { version: canary.release.version, percent: canary.percent, replicas: replicaStatus(canary.release) },
      websockets: releases.reduce((n, r) => n + r.websockets, 0),
      hosts: this.config.hosts,
      paths: this.config.paths,
      swapping: this.#swap === undefined ? null : { ...this.#swap, elapsed_ms: Date.now() - this.#swap.step_started_at },
      maintenance: this.#maintenance === undefined ? null : { message: this.#maintenance.message, since: new Date(this.#maintenance.since).toISOString() },
      paused_until: this.#pausedUntil === undefined ? null : new Date(this.#pausedUntil).toISOString(),
      draining: [...this.#draining].map((r) => ({ version: r.version, inflight: r.inflight, websockets: r.websockets })),
    };
  }

  /** Baton is stopping: let held requests go (to whatever is active) and stop the timers. */
  shutdown(): void {
    this.#stopping = true;
    this.#supervisor?.stop();
    for (const m of this.#monitors.values()) m.stop();
    this.#monitors.clear();
    clearTimeout(this.#pauseTimer);
    this.gate.release('pause');
    this.gate.release('swap');
  }
}

function replicaStatus(release: Release): ReplicaStatus[] {
  return release.upstreams.map((u) => ({
    address: u.address,
    id: u.instance.id,
    healthy: u.healthy && u.instance.exitInfo === undefined,
    inflight: u.inflight,
    restarts: u.restarts,
    ejected: u.ejected,
    crashes_in_a_row: u.restarting?.crashes ?? 0,
    restart_at: u.restarting === undefined ? null : new Date(u.restarting.at).toISOString(),
  }));
}
