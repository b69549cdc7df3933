import type { Instance } from '../runtime/runtime.js';
import type { Service, SwapKind } from '../service.js';
import { Upstream } from '../upstream/upstream.js';
import { waitHealthy, type HealthResult } from '../upstream/health.js';
import { BatonError, isBatonError } from '../errors.js';
import type { Notice } from '../notify/hub.js';

export type SwapStep = 'start' | 'healthy' | 'hold' | 'switch' | 'resume' | 'notify' | 'drain' | 'stop' | 'rollback';

/** The NDJSON events of the control API, one per step, then one `done`. */
export type SwapEvent = StepEvent | DoneEvent;
export type StepEvent = { step: SwapStep; ms: number } & Record<string, unknown>;
export type DoneEvent = { done: true; ok: true; version: string; previous: string | null; hold_ms: number; ms: number } | { done: true; ok: false; error: SwapFailure; ms: number };

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

/** What a swap needs besides the service: everything that touches the world outside it. */
export interface SwapDeps {
  notify(notice: Notice): number;
  /** Remember the now-active version (state file). */
  persist(): Promise<void>;
  /** Ends drains early when Baton is stopping. */
  signal: AbortSignal;
  /** Grace between SIGTERM/docker stop and the forceful kill of the old version. */
  stopGraceMs: number;
}

/**
 * A deploy or rollback, in the order a careful operator would do it by hand:
 * start the new version beside the old; wait until healthy (nothing changes otherwise);
 * hold, switch, resume (synchronous: the hold lasts only as long as the switch);
 * tell browsers; drain the old version; stop it.
 */
export async function swap(service: Service, version: string, kind: SwapKind, deps: SwapDeps, emit: (e: SwapEvent) => void): Promise<SwapEvent> {
  const unlock = service.lock(version, kind);
  const log = service.log.child({ kind, version });
  const began = performance.now();
  let mark = began;
  const step = (name: SwapStep, extra: Record<string, unknown> = {}): void => {
    const now = performance.now();
    const ms = round(now - mark);
    mark = now;
    log.info({ step: name, ms, ...extra }, `${name} step completed`);
    emit({ step: name, ms, ...extra });
  };
  const fail = (stepName: SwapStep, err: BatonError): SwapEvent => {
    const error: SwapFailure = { ...err.details, code: err.code, message: err.message, step: stepName, version };
    log.warn({ error }, `${kind} failed`);
    deps.notify({ type: 'deploy_failed', service: service.name, version });
    const done: SwapEvent = { done: true, ok: false, error, ms: round(performance.now() - began) };
    emit(done);
    return done;
  };

  try {
    deps.notify({ type: 'deploying', service: service.name, version });
    let instance: Instance;
    try {
      instance = await service.runtime.start({ version, signal: deps.signal });
    } catch (err) {
      return fail('start', asBatonError(err, 'START_FAILED'));
    }
    step('start', { id: instance.id, address: `${instance.host}:${instance.port}` });

    const health = await waitHealthy(instance, service.config.health, deps.signal);
    if (!health.ok) {
      await instance.stop(deps.stopGraceMs);
      return fail('healthy', healthError(health, instance, service.config.health.deadlineMs));
    }
    step('healthy', { probes: health.probes });

    // Hold, switch, resume: one synchronous stretch, so the hold costs microseconds.
    const upstream = new Upstream(instance);
    const previousBefore = service.previousVersion;
    const holdStart = performance.now();
    service.gate.hold('swap');
    const queued = service.gate.queued;
    const old = service.activate(upstream);
    const switchedAt = performance.now();
    service.gate.release('swap');
    const holdMs = performance.now() - holdStart;
    mark = holdStart;
    step('hold', { queued });
    mark = holdStart;
    step('switch', { from: old?.version ?? null, to: version, ms_since_hold: round(switchedAt - holdStart) });
    step('resume', { released: queued, hold_ms: round(holdMs, 3) });

    const browsers = deps.notify({ type: kind === 'rollback' ? 'rolled_back' : 'deployed', service: service.name, version });
    step('notify', { browsers });
    // The new version is live: remembering it may take a disk sync, outside the hold, and
    // outside the drain's own time.
    const persistStart = performance.now();
    await deps.persist().catch((err: unknown) => log.error({ err }, 'state file not written'));
    const persistMs = round(performance.now() - persistStart);
    mark = performance.now();

    if (old !== undefined) {
      const untrack = service.trackDraining(old);
      // If the new version dies while the old one still drains, traffic goes back to the old one.
      const reprieve = new AbortController();
      void instance.exited.then(() => reprieve.abort());
      try {
        const report = await old.drain({ ...drainOptions(service), signal: deps.signal, reprieve: reprieve.signal });
        if (report.reprieved && !deps.signal.aborted) {
          return await rollBack(service, old, upstream, previousBefore, kind, deps, step, fail);
        }
        step('drain', { version: old.version, cut: report.cut, streams_ended: report.streamsEnded, websockets_closed: report.websocketsClosed, state_write_ms: persistMs });
        await old.instance.stop(deps.stopGraceMs);
        old.close();
        step('stop', { version: old.version });
      } finally {
        untrack();
      }
    } else {
      step('drain', { version: null });
      step('stop', { version: null });
    }
    const done: SwapEvent = { done: true, ok: true, version, previous: old?.version ?? null, hold_ms: round(holdMs, 3), ms: round(performance.now() - began) };
    log.info({ hold_ms: done.hold_ms, ms: done.ms }, `${kind} completed`);
    emit(done);
    return done;
  } finally {
    unlock();
  }
}

/**
 * The new version exited after the switch while the old one was still draining (so still
 * running): switch back to the old one, the same way (hold, switch, resume), and report the
 * deploy as failed at the drain step.
 */
async function rollBack(
  service: Service,
  old: Upstream,
  failed: Upstream,
  previousBefore: string | undefined,
  kind: SwapKind,
  deps: SwapDeps,
  step: (name: SwapStep, extra?: Record<string, unknown>) => void,
  fail: (stepName: SwapStep, err: BatonError) => SwapEvent,
): Promise<SwapEvent> {
  const exit = await failed.instance.exited;
  service.gate.hold('swap');
  service.restore(old, previousBefore);
  const heldMs = service.gate.release('swap') ?? 0;
  step('rollback', { from: failed.version, to: old.version, hold_ms: Math.round(heldMs * 1000) / 1000 });
  deps.notify({ type: 'rolled_back', service: service.name, version: old.version });
  await deps.persist().catch(() => {});
  // The dead version may have had requests in flight: they failed with it; release its pool.
  failed.close();
  await failed.drain({ timeoutMs: 0, websocketGraceMs: 0 });
  const output = failed.instance.recentOutput().slice(-10);
  return fail(
    'drain',
    new BatonError('EXITED', `version ${failed.version} exited after the switch (${exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`}); ${kind === 'rollback' ? 'switched' : 'rolled'} back to ${old.version}, which was still draining`, {
      details: { exit_code: exit.code, signal: exit.signal, output, rolled_back_to: old.version },
    }),
  );
}

function drainOptions(service: Service): { timeoutMs: number; websocketGraceMs: number } {
  return { timeoutMs: service.config.drain.timeoutMs, websocketGraceMs: service.config.drain.websocketGraceMs };
}

function healthError(h: Exclude<HealthResult, { ok: true }>, instance: Instance, deadlineMs: number): BatonError {
  const output = instance.recentOutput().slice(-10);
  const base = { probes: h.probes, last_health: h.lastStatus, output };
  switch (h.reason) {
    case 'exited':
      return new BatonError('EXITED', `version ${instance.version} exited during the health check (${h.exit.signal !== null ? `signal ${h.exit.signal}` : `exit code ${h.exit.code}`})${lastLine(output)}`, {
        details: { ...base, exit_code: h.exit.code, signal: h.exit.signal },
      });
    case 'unhealthy':
      return new BatonError('UNHEALTHY', `version ${instance.version} reported unhealthy (${h.lastStatus})`, { details: base });
    case 'deadline':
      return new BatonError('HEALTH_DEADLINE', `version ${instance.version} was not healthy within ${deadlineMs}ms (last probe: ${h.lastStatus})`, { details: base });
    case 'aborted':
      return new BatonError('ABORTED', `the health check of ${instance.version} was interrupted: Baton is stopping`, { details: base });
  }
}

function lastLine(output: string[]): string {
  const last = output.at(-1);
  return last === undefined ? '' : `: ${last}`;
}

function asBatonError(err: unknown, code: 'START_FAILED'): BatonError {
  if (isBatonError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BatonError(code, message, { cause: err });
}

function round(ms: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(ms * f) / f;
}
