import type { Instance } from '../runtime/runtime.js';
import type { HealthConfig } from '../config/types.js';
import type { Service, Side } from '../service.js';
import type { HealthResult } from '../upstream/health.js';
import type { Notice } from '../notify/hub.js';
import { BatonError } from '../errors.js';
import { SwapRun } from './run.js';

export { startRelease, type StartHooks } from './start.js';

export type SwapStep = 'start' | 'healthy' | 'hold' | 'quiesce' | 'migrate' | 'switch' | 'resume' | 'notify' | 'drain' | 'stop' | 'rollback' | 'canary';

/** The NDJSON events of the control API, one per step, then one `done`. */
export type SwapEvent = StepEvent | DoneEvent;
export type StepEvent = { step: SwapStep; ms: number } & Record<string, unknown>;
export type DoneEvent =
  | { done: true; ok: true; version: string; previous: string | null; hold_ms: number; ms: number; canary?: number }
  | { done: true; ok: false; error: SwapFailure; ms: number };

export function isDone(e: SwapEvent): e is DoneEvent {
  return e.done === true;
}

export interface SwapFailure {
  code: string;
  message: string;
  step: SwapStep;
  version: string;
  [key: string]: unknown;
}

/** Waits until a new instance is healthy (health.ts; a fake in unit tests). */
export type HealthCheck = (instance: Instance, health: HealthConfig, signal: AbortSignal, onProbe: (probes: number, last: string) => void) => Promise<HealthResult>;

/** What a swap needs besides the service: everything that touches the world outside it. */
export interface SwapDeps {
  /** Tell browsers; `only` limits it to one side of the canary of version `only.canary`. */
  notify(notice: Notice, only?: { side: Side; canary: string }): number;
  /** Remember the now-active version (state file). */
  persist(): Promise<void>;
  health: HealthCheck;
  /** Ends drains early when Baton is stopping. */
  signal: AbortSignal;
  /** Grace between SIGTERM/docker stop and the forceful kill of the old version. */
  stopGraceMs: number;
  /** A migration ran (metrics). */
  migrated?(service: string, ok: boolean, ms: number): void;
}

/**
 * A deploy or rollback, in the order a careful operator would do it by hand: start the new
 * version beside the old; wait until healthy (nothing changes otherwise); hold, switch, resume
 * (synchronous: the hold lasts only as long as the switch); tell browsers; drain the old
 * version; stop it. During a canary, a rollback ends the canary instead (endCanary).
 */
export async function swap(service: Service, version: string, kind: 'deploy' | 'rollback', deps: SwapDeps, emit: (e: SwapEvent) => void): Promise<DoneEvent> {
  const unlock = service.lock(version, kind);
  try {
    return await new SwapRun(service, version, kind, deps, emit).deploy();
  } finally {
    unlock();
  }
}

/** Start `version` and health-check it as a deploy does, then send `percent` of clients to it. */
export async function startCanary(service: Service, version: string, percent: number, deps: SwapDeps, emit: (e: SwapEvent) => void): Promise<DoneEvent> {
  if (service.config.migrate?.hold === true) throw migrationNeedsHold(service, version);
  const unlock = service.lock(version, 'canary');
  try {
    return await new SwapRun(service, version, 'canary', deps, emit).canary(percent);
  } finally {
    unlock();
  }
}

/**
 * A migration run inside the hold is for a change the old version cannot live with: a canary
 * would serve both versions at once, one of them on a schema it does not expect. Refused before
 * anything starts (409); a backward-compatible change (`migrate.hold: false`) may have a canary.
 */
function migrationNeedsHold(service: Service, version: string): BatonError {
  const active = service.active?.version ?? 'the active version';
  return new BatonError(
    'MIGRATION_NEEDS_HOLD',
    `${service.name} migrates inside the hold (migrate.hold: true), which a canary cannot give: ${active} and ${version} would serve side by side on one schema. ` +
      `Deploy ${version} without --canary, or set migrate.hold: false if the schema change is backward compatible`,
    { details: { service: service.name, version } },
  );
}

/** Make the canary the active version with the normal switch: hold, switch, resume, notify, drain, stop. */
export async function promote(service: Service, deps: SwapDeps, emit: (e: SwapEvent) => void): Promise<DoneEvent> {
  const canary = service.canary;
  if (canary === undefined) throw new BatonError('NO_CANARY', `${service.name} has no canary to promote`, { details: { service: service.name } });
  const unlock = service.lock(canary.release.version, 'promote');
  try {
    return await new SwapRun(service, canary.release.version, 'promote', deps, emit).promote(canary.release);
  } finally {
    unlock();
  }
}

/** Stop the canary: its clients go back to the active version, which nothing else changes. */
export async function endCanary(service: Service, deps: SwapDeps, emit: (e: SwapEvent) => void): Promise<DoneEvent> {
  const canary = service.canary;
  if (canary === undefined) throw new BatonError('NO_CANARY', `${service.name} has no canary to roll back`, { details: { service: service.name } });
  const active = service.active?.version ?? canary.release.version;
  const unlock = service.lock(active, 'rollback');
  try {
    return await new SwapRun(service, active, 'rollback', deps, emit).endCanary();
  } finally {
    unlock();
  }
}
