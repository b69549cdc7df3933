import type { Logger } from 'pino';
import type { ServiceConfig } from './config/types.js';
import type { Runtime } from './runtime/runtime.js';
import { Gate } from './swap/gate.js';
import { Pause } from './swap/pause.js';
import type { Release } from './upstream/release.js';
import type { Upstream } from './upstream/upstream.js';
import { BatonError } from './errors.js';
import { serviceStatus, type ServiceStatus, type SwapProgress } from './service-status.js';
import { ReleaseSupervision, type Supervision } from './supervision.js';

/** Which side of a canary a request is on. */
export type Side = 'stable' | 'canary';

export type ServiceState = 'serving' | 'swapping' | 'migrating' | 'paused' | 'maintenance';
export type SwapKind = 'deploy' | 'rollback' | 'canary' | 'promote';

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
  readonly #supervision: ReleaseSupervision | undefined;
  /** A swap watches this release for deaths itself (it reverts): supervision leaves it alone. */
  #watchedBySwap: Release | undefined;
  /** The version active before the last switch: what `rollback` goes back to. */
  #previous: string | undefined;
  #swap: SwapProgress | undefined;
  readonly #pause: Pause;
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
    this.#pause = new Pause(this.gate, log);
    this.#supervision =
      supervision === undefined
        ? undefined
        : new ReleaseSupervision(supervision, {
            target: () => ({ runtime: this.runtime, health: this.config.health }),
            serving: (r) => !this.#stopping && r !== this.#watchedBySwap && (r === this.#active || r === this.#canary?.release),
            log,
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
    return this.#pause.current;
  }

  /** When the last pause with a timeout was due to end (epoch ms), until resume() clears it. */
  get pausedUntil(): number | undefined {
    return this.#pause.until;
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
    this.#supervision?.serve(release); // probed, its dead instances replaced
  }

  /** The canary ends (rolled back): its clients go back to the active release. Returns it, to drain. */
  endCanary(): Release | undefined {
    const canary = this.#canary?.release;
    this.#canary = undefined;
    if (canary !== undefined) this.#supervision?.retire(canary);
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
    if (replaced !== undefined) this.#supervision?.retire(replaced);
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
    if (failed !== undefined && failed !== release) this.#supervision?.retire(failed);
    return holdMs;
  }

  #setActive(release: Release): void {
    this.#active = release;
    this.#supervision?.serve(release); // probed, its dead instances replaced
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
    this.#pause.start(timeoutMs);
  }

  /** Release the pause; returns how many held requests were released. */
  resume(): number {
    return this.#pause.end();
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

  /** Releases being drained (replaced, still finishing their requests). */
  get draining(): Release[] {
    return [...this.#draining];
  }

  status(): ServiceStatus {
    return serviceStatus(this);
  }

  /** Baton is stopping: let held requests go (to whatever is active) and stop the timers. */
  shutdown(): void {
    this.#stopping = true;
    this.#supervision?.stop();
    this.#pause.stop();
    this.gate.release('swap');
  }
}
