import { formatDuration } from '../config/duration.js';
import type { Service, SwapKind } from '../service.js';
import { Release } from '../upstream/release.js';
import type { DrainReport } from '../upstream/upstream.js';
import type { MigrateConfig } from '../config/types.js';
import type { RunOnceResult } from '../runtime/runtime.js';
import { BatonError } from '../errors.js';
import { StartFailure, asBatonError, exitText, round, startRelease } from './start.js';
import type { DoneEvent, SwapDeps, SwapEvent, SwapFailure, SwapStep } from './swap.js';

/**
 * One swap of one service, step by step, each step timed and emitted as an event: the deploy
 * (or rollback) a careful operator would do by hand, a canary's start and end, a promotion.
 */
export class SwapRun {
  readonly #service: Service;
  readonly #version: string;
  readonly #kind: SwapKind;
  readonly #deps: SwapDeps;
  readonly #emit: (e: SwapEvent) => void;
  readonly #log: Service['log'];
  readonly #began = performance.now();
  #mark = this.#began;

  constructor(service: Service, version: string, kind: SwapKind, deps: SwapDeps, emit: (e: SwapEvent) => void) {
    this.#service = service;
    this.#version = version;
    this.#kind = kind;
    this.#deps = deps;
    this.#emit = emit;
    this.#log = service.log.child({ kind, version });
  }

  async deploy(): Promise<DoneEvent> {
    this.#deps.notify({ type: 'deploying', service: this.#service.name, version: this.#version });
    const release = await this.#start();
    if (!(release instanceof Release)) return release;
    // A rollback never runs migrations: the migration tool owns its down-migrations.
    const migrate = this.#kind === 'deploy' ? this.#service.config.migrate : undefined;
    if (migrate === undefined) return this.#switchAndDrain(release);
    if (migrate.hold) return this.#migrateInHold(release, migrate);
    // Expand/contract: a backward-compatible change, run while both versions serve.
    const failed = await this.#migrate(release, migrate);
    return failed ?? this.#switchAndDrain(release);
  }

  /**
   * Hold new requests, let the old version's in-flight ones finish (quiesce), migrate, then
   * switch and resume: the old version never sees the new schema mid-request, the new one never
   * sees the old. hold.timeout still bounds each held request.
   */
  async #migrateInHold(release: Release, migrate: MigrateConfig): Promise<DoneEvent> {
    const service = this.#service;
    const holdStart = performance.now();
    const timedOutBefore = service.gate.timedOut;
    service.gate.hold('migrate');
    this.#step('hold', { queued: service.gate.queued });
    this.#progress('quiesce');
    const old = service.active;
    const cut = old === undefined ? 0 : await old.quiesce(service.config.drain.timeoutMs, this.#deps.signal);
    this.#step('quiesce', { version: old?.version ?? null, cut });
    const failed = await this.#migrate(release, migrate, () => service.gate.release('migrate'));
    if (failed !== undefined) return failed;
    return this.#switchAndDrain(release, () => {
      service.gate.release('migrate');
      return { holdMs: performance.now() - holdStart, timedOut: service.gate.timedOut - timedOutBefore };
    });
  }

  /**
   * Run the migration as the new version. On failure the held requests (if any) go to the old
   * version (`release` is called first), the new version is stopped, and the swap ends at
   * `migrate` with the exit code and the last output lines. Returns undefined on success.
   */
  async #migrate(release: Release, migrate: MigrateConfig, releaseHold?: () => void): Promise<DoneEvent | undefined> {
    const service = this.#service;
    this.#progress('migrate');
    let result: RunOnceResult;
    try {
      result = await service.runtime.runOnce({ version: this.#version, command: migrate.command, timeoutMs: migrate.timeoutMs, signal: this.#deps.signal });
    } catch (err) {
      releaseHold?.();
      this.#deps.migrated?.(service.name, false, 0);
      await release.stop(this.#deps.stopGraceMs);
      return this.#fail('migrate', asBatonError(err));
    }
    const ok = result.exitCode === 0 && !result.timedOut;
    this.#deps.migrated?.(service.name, ok, result.ms);
    if (ok) {
      this.#step('migrate', { exit_code: 0, output: result.output.slice(-10) });
      return undefined;
    }
    releaseHold?.();
    await release.stop(this.#deps.stopGraceMs);
    const why = result.timedOut ? `timed out after ${formatDuration(migrate.timeoutMs)}` : result.signal !== null ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
    const last = result.output.at(-1);
    return this.#fail(
      'migrate',
      new BatonError(result.timedOut ? 'MIGRATION_TIMEOUT' : 'MIGRATION_FAILED', `the migration of ${this.#version} ${why}${last === undefined ? '' : `: ${last}`}; ${service.active?.version ?? 'the old version'} is still serving`, {
        details: { exit_code: result.exitCode, signal: result.signal, output: result.output.slice(-10), ms: round(result.ms) },
      }),
    );
  }

  async canary(percent: number): Promise<DoneEvent> {
    const service = this.#service;
    const onCanary = { side: 'canary', canary: this.#version } as const;
    this.#deps.notify({ type: 'deploying', service: service.name, version: this.#version }, onCanary);
    const release = await this.#start();
    if (!(release instanceof Release)) return release;
    // A backward-compatible migration (hold: false; startCanary refuses hold: true) runs before
    // the canary takes its first request, as a deploy's does before its switch; a promote does
    // not run it again.
    const migrate = service.config.migrate;
    if (migrate !== undefined) {
      const failed = await this.#migrate(release, migrate);
      if (failed !== undefined) return failed;
    }
    this.#progress('canary');
    service.startCanary(release, percent);
    this.#step('canary', { version: this.#version, percent, stable: service.active?.version ?? null });
    await this.#deps.persist().catch((err: unknown) => this.#log.error({ err }, 'state file not written'));
    // Only the canary's clients hear of the canary's version.
    const browsers = this.#deps.notify({ type: 'deployed', service: service.name, version: this.#version }, onCanary);
    this.#step('notify', { browsers });
    const ms = round(performance.now() - this.#began);
    this.#log.info({ percent, ms }, 'canary started');
    return this.#done({ done: true, ok: true, version: this.#version, previous: service.active?.version ?? null, hold_ms: 0, ms, canary: percent });
  }

  promote(release: Release): Promise<DoneEvent> {
    return this.#switchAndDrain(release);
  }

  async endCanary(): Promise<DoneEvent> {
    const service = this.#service;
    const canary = service.endCanary();
    if (canary === undefined) return this.#done({ done: true, ok: true, version: this.#version, previous: null, hold_ms: 0, ms: 0 });
    this.#step('switch', { from: canary.version, to: this.#version, canary: true });
    const browsers = this.#deps.notify({ type: 'rolled_back', service: service.name, version: this.#version }, { side: 'canary', canary: canary.version });
    this.#step('notify', { browsers });
    const untrack = service.trackDraining(canary);
    try {
      const report = await canary.drain({ timeoutMs: service.config.drain.timeoutMs, websocketGraceMs: service.config.drain.websocketGraceMs, signal: this.#deps.signal });
      this.#step('drain', { version: canary.version, cut: report.cut, streams_ended: report.streamsEnded, websockets_closed: report.websocketsClosed });
    } finally {
      untrack();
    }
    await canary.stop(this.#deps.stopGraceMs);
    this.#step('stop', { version: canary.version });
    await this.#deps.persist().catch((err: unknown) => this.#log.error({ err }, 'state file not written'));
    const ms = round(performance.now() - this.#began);
    this.#log.info({ canary: canary.version, ms }, 'canary rolled back');
    return this.#done({ done: true, ok: true, version: this.#version, previous: service.previousVersion ?? null, hold_ms: 0, ms });
  }

  /** Start the new version beside the old and wait until it is healthy; a failure is the swap's end. */
  async #start(): Promise<Release | DoneEvent> {
    try {
      return await startRelease(this.#service, this.#version, this.#deps, {
        step: (name, extra) => this.#step(name, extra),
        progress: (step, probes, last) => this.#progress(step, probes, last),
      });
    } catch (err) {
      return this.#fail(err instanceof StartFailure ? err.step : 'start', asBatonError(err));
    }
  }

  /**
   * Hold, switch, resume (one synchronous stretch: the hold costs microseconds), tell browsers,
   * drain the replaced version, stop it. `endHold`: a hold taken before (a migration's) ends
   * right after the switch; it returns how long it lasted, and how many held requests waited
   * out hold.timeout meanwhile (answered 503: the migration outlasted the bound).
   */
  async #switchAndDrain(release: Release, endHold?: () => { holdMs: number; timedOut: number }): Promise<DoneEvent> {
    const service = this.#service;
    const deps = this.#deps;
    const previousBefore = service.previousVersion;
    const holdStart = performance.now();
    const queued = service.gate.queued;
    const switched = service.switchTo(release);
    const { replaced } = switched;
    let { released, holdMs } = switched;
    let timedOut: number | undefined;
    if (endHold === undefined) {
      this.#mark = holdStart;
      this.#step('hold', { queued: released });
      this.#mark = holdStart;
    } else {
      ({ holdMs, timedOut } = endHold());
      released = queued;
    }
    this.#step('switch', { from: replaced?.version ?? null, to: this.#version });
    this.#step('resume', { released, hold_ms: round(holdMs, 3), ...(timedOut === undefined ? {} : { timed_out: timedOut }) });
    const notice = { type: this.#kind === 'rollback' ? 'rolled_back' : 'deployed', service: service.name, version: this.#version } as const;
    // A promoted canary's own clients are on it already: only the others hear of it.
    const browsers = deps.notify(notice, this.#kind === 'promote' ? { side: 'stable', canary: this.#version } : undefined);
    this.#step('notify', { browsers });
    this.#progress('drain');
    // Remembering the new version may take a disk sync: outside the hold and the drain.
    const persistStart = performance.now();
    await deps.persist().catch((err: unknown) => this.#log.error({ err }, 'state file not written'));
    const persistMs = round(performance.now() - persistStart);
    this.#mark = performance.now();

    if (replaced === undefined) {
      this.#step('drain', { version: null });
      this.#step('stop', { version: null });
    } else {
      const outcome = await this.#drain(replaced, release, persistMs);
      if (outcome === 'reprieved') return this.#revert(replaced, release, previousBefore);
      this.#progress('stop');
      await replaced.stop(deps.stopGraceMs);
      this.#step('stop', { version: replaced.version });
      // The state file lists running instances (the next Baton adopts them): the old ones are gone.
      await deps.persist().catch((err: unknown) => this.#log.error({ err }, 'state file not written'));
    }
    const ms = round(performance.now() - this.#began);
    this.#log.info({ hold_ms: round(holdMs, 3), ms }, `${this.#kind} completed`);
    return this.#done({ done: true, ok: true, version: this.#version, previous: replaced?.version ?? null, hold_ms: round(holdMs, 3), ms });
  }

  /** Drain `old`; called off if the new release dies meanwhile (traffic goes back to `old`). */
  async #drain(old: Release, current: Release, persistMs: number): Promise<'drained' | 'reprieved'> {
    const service = this.#service;
    const untrack = service.trackDraining(old);
    const reprieve = new AbortController();
    // Until the old version is gone, a death of the new one means going back to it.
    service.watchForRevert(current);
    void current.firstExit().then(() => reprieve.abort());
    try {
      const report: DrainReport = await old.drain({ timeoutMs: service.config.drain.timeoutMs, websocketGraceMs: service.config.drain.websocketGraceMs, signal: this.#deps.signal, reprieve: reprieve.signal });
      if (report.reprieved && !this.#deps.signal.aborted) return 'reprieved';
      // Baton stopping cut the drain short: say so rather than report a clean one (issue 15).
      const cutShort = this.#deps.signal.aborted;
      this.#step('drain', { version: old.version, cut: report.cut, streams_ended: report.streamsEnded, websockets_closed: report.websocketsClosed, state_write_ms: persistMs, ...(cutShort ? { cut_short: true } : {}) });
      return 'drained';
    } finally {
      untrack();
      service.watchForRevert(undefined);
    }
  }

  /**
   * The new version exited after the switch while the old one was still draining (so still
   * running): switch back to the old one the same way, and report the swap failed at `drain`.
   */
  async #revert(old: Release, failed: Release, previousBefore: string | undefined): Promise<DoneEvent> {
    const service = this.#service;
    const dead = await failed.firstExit();
    const holdMs = service.revert(old, previousBefore);
    this.#step('rollback', { from: failed.version, to: old.version, hold_ms: round(holdMs, 3) });
    this.#deps.notify({ type: 'rolled_back', service: service.name, version: old.version });
    await this.#deps.persist().catch(() => {});
    // The dead version may have had requests in flight: they failed with it.
    await failed.drain({ timeoutMs: 0, websocketGraceMs: 0 });
    await failed.stop(this.#deps.stopGraceMs);
    const exit = dead.instance.exitInfo ?? { code: null, signal: null };
    const output = dead.instance.recentOutput().slice(-10);
    const verb = this.#kind === 'rollback' ? 'switched' : 'rolled';
    return this.#fail(
      'drain',
      new BatonError('EXITED', `version ${failed.version} exited after the switch (${exitText(exit)}); ${verb} back to ${old.version}, which was still draining`, {
        details: { exit_code: exit.code, signal: exit.signal, output, rolled_back_to: old.version },
      }),
    );
  }

  /** What status shows of this swap: the step under way (since when), the health probes so far. */
  #progress(step: SwapStep, probes?: number, last?: string | null): void {
    const progress = this.#service.swapping;
    if (progress === undefined) return;
    if (progress.step !== step) progress.step_started_at = Date.now();
    progress.step = step;
    if (probes !== undefined) progress.probes = probes;
    if (last !== undefined) progress.last_probe = last;
  }

  #step(name: SwapStep, extra: Record<string, unknown> = {}): void {
    const now = performance.now();
    const ms = round(now - this.#mark);
    this.#mark = now;
    this.#log.info({ step: name, ms, ...extra }, `${name} step completed`);
    this.#emit({ step: name, ms, ...extra });
  }

  #fail(step: SwapStep, err: BatonError): DoneEvent {
    const error: SwapFailure = { ...err.details, code: err.code, message: err.message, step, version: this.#version };
    this.#log.warn({ error }, `${this.#kind} failed`);
    this.#deps.notify({ type: 'deploy_failed', service: this.#service.name, version: this.#version });
    return this.#done({ done: true, ok: false, error, ms: round(performance.now() - this.#began) });
  }

  #done(e: DoneEvent): DoneEvent {
    this.#emit(e);
    return e;
  }
}

