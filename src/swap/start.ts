import { formatDuration } from '../config/duration.js';
import type { ExitInfo, Instance } from '../runtime/runtime.js';
import type { Service } from '../service.js';
import { Release } from '../upstream/release.js';
import { Upstream } from '../upstream/upstream.js';
import type { HealthResult } from '../upstream/health.js';
import { BatonError, isBatonError } from '../errors.js';
import type { SwapDeps, SwapStep } from './swap.js';

/** A start or health failure, with the step it belongs to. */
export class StartFailure extends BatonError {
  readonly step: 'start' | 'healthy';
  constructor(step: 'start' | 'healthy', err: BatonError) {
    super(err.code, err.message, { cause: err.cause, details: err.details });
    this.step = step;
  }
}

/** How a release start reports its steps (a swap's events) and its health probes (status). */
export interface StartHooks {
  step(name: 'start' | 'healthy', extra: Record<string, unknown>): void;
  progress(step: SwapStep, probes: number, last: string | null): void;
}

/**
 * Start `version` of `service` beside what runs (one instance per replica) and wait until every
 * instance is healthy. On failure everything started is stopped and a StartFailure says at
 * which step; nothing else has changed.
 */
export async function startRelease(
  service: Pick<Service, 'runtime' | 'config'>,
  version: string,
  deps: Pick<SwapDeps, 'health' | 'signal' | 'stopGraceMs'>,
  hooks: StartHooks,
  n = service.config.replicas,
): Promise<Release> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => service.runtime.start({ version, signal: deps.signal })));
  const instances = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(instances.map((i) => i.stop(deps.stopGraceMs)));
    throw new StartFailure('start', asBatonError(failed.reason));
  }
  const first = instances[0]!;
  hooks.step('start', n === 1 ? { id: first.id, address: `${first.host}:${first.port}` } : { id: first.id, address: `${first.host}:${first.port}`, replicas: instances.map((i) => ({ id: i.id, address: `${i.host}:${i.port}` })) });
  hooks.progress('healthy', 0, null);
  // Every replica must be healthy: the first failure stops the wait for the others.
  const abort = new AbortController();
  const signal = AbortSignal.any([deps.signal, abort.signal]);
  let probes = 0;
  const results = await Promise.all(
    instances.map(async (instance) => {
      const h = await deps.health(instance, service.config.health, signal, (_p, last) => hooks.progress('healthy', ++probes, last));
      if (!h.ok) abort.abort();
      return { instance, h };
    }),
  );
  const bad = results.find((r) => !r.h.ok && r.h.reason !== 'aborted') ?? results.find((r) => !r.h.ok);
  if (bad !== undefined && !bad.h.ok) {
    await Promise.all(instances.map((i) => i.stop(deps.stopGraceMs)));
    throw new StartFailure('healthy', healthError(bad.h, bad.instance, service.config.health.deadlineMs));
  }
  hooks.step('healthy', { probes: results.reduce((sum, r) => sum + (r.h.ok ? r.h.probes : 0), 0) });
  return new Release(
    version,
    instances.map((i) => new Upstream(i)),
    service.config.loadBalancing,
  );
}

function healthError(h: Exclude<HealthResult, { ok: true }>, instance: Instance, deadlineMs: number): BatonError {
  const all = instance.recentOutput();
  const output = all.slice(-10);
  const base = { probes: h.probes, last_health: h.lastStatus, output };
  switch (h.reason) {
    case 'exited':
      return new BatonError('EXITED', `version ${instance.version} exited during the health check (${exitText(h.exit)})${firstErrorLine(all)}`, {
        details: { ...base, exit_code: h.exit.code, signal: h.exit.signal },
      });
    case 'unhealthy':
      return new BatonError('UNHEALTHY', `version ${instance.version} reported unhealthy (${h.lastStatus})`, { details: base });
    case 'deadline':
      return new BatonError('HEALTH_DEADLINE', `version ${instance.version} was not healthy within ${formatDuration(deadlineMs)} (last probe: ${h.lastStatus})`, { details: base });
    case 'aborted':
      return new BatonError('ABORTED', `the health check of ${instance.version} was interrupted: Baton is stopping`, { details: base });
  }
}

export function exitText(exit: ExitInfo): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/**
 * The line that says why an app died: the first that reads like an error (`Error: Cannot find
 * module ...`), not the last (`Node.js v20.20.2`: issue 15); else the last line. It is looked for
 * in all the output kept, not the last lines shown (an ESM import failure's stack pushes the
 * error out of them), and skips the source line Node echoes above its `^` marker
 * (`throw new Error(...)` is code, not the reason).
 */
export function firstErrorLine(output: readonly string[]): string {
  const echoed = (i: number): boolean => /^\s*\^+\s*$/.test(output[i + 1] ?? '');
  const line = output.find((l, i) => !echoed(i) && /\b(error|exception|cannot|failed|fatal|panic)\b/i.test(l)) ?? output.at(-1);
  return line === undefined ? '' : `: ${line.trim()}`;
}

export function asBatonError(err: unknown): BatonError {
  if (isBatonError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BatonError('START_FAILED', message, { cause: err });
}

export function round(ms: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(ms * f) / f;
}
