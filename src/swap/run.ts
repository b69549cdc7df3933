import type { Service, SwapKind } from '../service.js';
import { Release } from '../upstream/release.js';
import type { DrainReport } from '../upstream/upstream.js';
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
    return release instanceof Release ? this.#switchAndDrain(release) : release;
  }

  async canary(percent: number): Promise<DoneEvent> {
    const service = this.#service;
    const onCanary = { side: 'canary', canary: this.#version } as const;
    this.#deps.notify({ type: 'deploying', service: service.name, version: this.#version }, onCanary);
    const release = await this.#start();
    if (!(release instanceof Release)) return release;
    service.startCanary(release, percent);
    this.#step('canary', { version: this.#version, percent, stable: service.active?.version ?? null });
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

  /** Hold, switch, resume (one synchronous stretch: the hold costs microseconds), tell browsers, drain the replaced version, stop it. */
  async #switchAndDrain(release: Release): Promise<DoneEvent> {
    const service = this.#service;
    const deps = this.#deps;
    const previousBefore = service.previousVersion;
    const holdStart = performance.now();
    const { replaced, released, holdMs } = service.switchTo(release);
    this.#mark = holdStart;
    this.#step('hold', { queued: released });
    this.#mark = holdStart;
    this.#step('switch', { from: replaced?.version ?? null, to: this.#version });
    this.#step('resume', { released, hold_ms: round(holdMs, 3) });
    const notice = { type: this.#kind === 'rollback' ? 'rolled_back' : 'deployed', service: service.name, version: this.#version } as const;
    // A promoted canary's own clients are on it already: only the others hear of it.
    const browsers = deps.notify(notice, this.#kind === 'promote' ? { side: 'stable', canary: this.#version } : undefined);
    this.#step('notify', { browsers });
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
      await replaced.stop(deps.stopGraceMs);
      this.#step('stop', { version: replaced.version });
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

  #progress(step: SwapStep, probes: number, last: string | null): void {
    const progress = this.#service.swapping;
    if (progress === undefined) return;
    progress.step = step;
    progress.probes = probes;
    progress.last_probe = last;
  }

  #step(name: SwapStep, extra: Record<string, unknown> = {}): void {
    const now = performance.now();
    const ms = round(now - this.#mark);
    this.#mark = now;
    this.#log.info({ step: name, ms, ...extra }, `${name} step completed`);
    this.#emit({ step: name, ms, ...extra });
    if (name === 'start' || name === 'healthy') return;
    this.#progress(name, this.#service.swapping?.probes ?? 0, this.#service.swapping?.last_probe ?? null);
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

