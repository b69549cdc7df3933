import type { Logger } from 'pino';
import type { ServiceConfig } from './config/types.js';
import type { Runtime } from './runtime/runtime.js';
import { Gate } from './swap/gate.js';
import type { Upstream } from './upstream/upstream.js';
import { BatonError } from './errors.js';

export type ServiceState = 'serving' | 'swapping' | 'paused';

/** The body of one service in GET /v1/status (the contract's fields first). */
export interface ServiceStatus {
  state: ServiceState;
  active: { version: string; address: string; id: string } | null;
  previous: { version: string } | null;
  inflight: number;
  queued: number;
  /** Whether the active version's instance is running (false once it exited by itself). */
  healthy: boolean;
  websockets: number;
  swapping: { version: string; kind: SwapKind } | null;
  paused_until: string | null;
  draining: Array<{ version: string; inflight: number; websockets: number }>;
}

export type SwapKind = 'deploy' | 'rollback';

/**
 * One service: which upstream is active, what was active before, its hold gate, and the lock
 * that keeps to one swap at a time. The switch itself is the single assignment in `activate`.
 */
export class Service {
  readonly name: string;
  readonly config: ServiceConfig;
  readonly runtime: Runtime;
  readonly gate: Gate;
  readonly log: Logger;
  #active: Upstream | undefined;
  #previous: string | undefined;
  #swap: { version: string; kind: SwapKind } | undefined;
  #pauseTimer: NodeJS.Timeout | undefined;
  #pausedUntil: number | undefined;
  #draining = new Set<Upstream>();
  #activeDown = false;

  constructor(config: ServiceConfig, runtime: Runtime, log: Logger) {
    this.name = config.name;
    this.config = config;
    this.runtime = runtime;
    this.log = log;
    this.gate = new Gate({ timeoutMs: config.hold.timeoutMs, maxQueued: config.hold.maxQueued });
  }

  get active(): Upstream | undefined {
    return this.#active;
  }
  get previousVersion(): string | undefined {
    return this.#previous;
  }
  get swapping(): { version: string; kind: SwapKind } | undefined {
    return this.#swap;
  }

  get state(): ServiceState {
    if (this.#swap !== undefined) return 'swapping';
    return this.gate.isHeldBy('pause') ? 'paused' : 'serving';
  }

  /**
   * Make `upstream` the one new requests go to; returns the one it replaced. Synchronous by
   * design: this is the atomic switch.
   */
  activate(upstream: Upstream, previous?: string): Upstream | undefined {
    const old = this.#active;
    this.#setActive(upstream);
    if (old !== undefined) this.#previous = old.version;
    else if (previous !== undefined) this.#previous = previous;
    return old;
  }

  /**
   * Undo a switch whose new version died: `upstream` (still running) is active again and the
   * previous version is what it was before the failed deploy. Synchronous, like `activate`.
   */
  restore(upstream: Upstream, previous: string | undefined): void {
    this.#setActive(upstream);
    this.#previous = previous;
  }

  #setActive(upstream: Upstream): void {
    this.#active = upstream;
    this.#activeDown = false;
    void upstream.instance.exited.then((exit) => {
      if (this.#active !== upstream) return;
      this.#activeDown = true;
      this.log.error({ version: upstream.version, code: exit.code, signal: exit.signal }, 'active version exited; deploy to recover');
    });
  }

  /** Take the swap lock or fail with 409 naming the swap that holds it. */
  lock(version: string, kind: SwapKind): () => void {
    if (this.#swap !== undefined) {
      throw new BatonError('SWAP_IN_PROGRESS', `a ${this.#swap.kind} of ${this.name} to ${this.#swap.version} is already running`, {
        details: { service: this.name, version: this.#swap.version },
      });
    }
    const swap = { version, kind };
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
    this.gate.hold('pause');
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

  trackDraining(upstream: Upstream): () => void {
    this.#draining.add(upstream);
    return () => this.#draining.delete(upstream);
  }

  /** Upstreams this service still has traffic on: the active one and any being drained. */
  upstreams(): Upstream[] {
    return this.#active === undefined ? [...this.#draining] : [this.#active, ...this.#draining];
  }

  status(): ServiceStatus {
    const a = this.#active;
    const inflight = this.upstreams().reduce((n, u) => n + u.inflight, 0);
    return {
      state: this.state,
      active: a === undefined ? null : { version: a.version, address: a.address, id: a.instance.id },
      previous: this.#previous === undefined ? null : { version: this.#previous },
      inflight,
      queued: this.gate.queued,
      healthy: a !== undefined && !this.#activeDown,
      websockets: this.upstreams().reduce((n, u) => n + u.websockets, 0),
      swapping: this.#swap ?? null,
      paused_until: this.#pausedUntil === undefined ? null : new Date(this.#pausedUntil).toISOString(),
      draining: [...this.#draining].map((u) => ({ version: u.version, inflight: u.inflight, websockets: u.websockets })),
    };
  }

  /** Baton is stopping: let held requests go (to whatever is active) and stop the timers. */
  shutdown(): void {
    clearTimeout(this.#pauseTimer);
    this.gate.release('pause');
    this.gate.release('swap');
  }
}
