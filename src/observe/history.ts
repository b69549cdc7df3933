/**
 * The deploy history (issue 16): every deploy, rollback, promote, canary, pause, resume,
 * maintenance change, reload and upgrade, with who asked, kept in the history file (history-file.ts)
 * and in memory for `GET /v1/history`. A swap is recorded as it runs: it shows as `running`
 * from the moment it took its service's lock, gains each step as its event is emitted, and is
 * written to the file when it ends. `onChange` hears of every new or changed record (the
 * dashboard's live timeline).
 */
import type { Logger } from 'pino';
import type { DoneEvent, SwapEvent } from '../swap/swap.js';
import { isDone } from '../swap/swap.js';
import { BatonError } from '../errors.js';
import type { HistoryFile } from './history-file.js';
import { isUpgradeDone, type UpgradeDone, type UpgradeEvent } from '../upgrade/handover.js';
import type { Caller, HistoryEntry, HistoryKind, HistoryStep } from './history-entry.js';

export type { Caller, HistoryEntry, HistoryKind, HistoryBody } from './history-entry.js';

export interface HistoryOptions {
  file: HistoryFile;
  log: Logger;
  /** Every new or changed record, as it is now. */
  onChange?: (entry: HistoryEntry) => void;
}

/** A swap being recorded: its events go through `emit`; `settle` is given how its run ended. */
export interface SwapRecording {
  emit(e: SwapEvent): void;
  /** The run rejected (a fault, not an outcome): the record ends failed with the error. */
  fault(err: unknown): void;
}

/** An upgrade being recorded: its events go through `emit`; `ended` writes the record (and resolves once it is on disk). */
export interface UpgradeRecording {
  emit(e: UpgradeEvent | UpgradeDone): void;
  ended(done: UpgradeDone): Promise<void>;
}

/** At most this many records per answer. */
export const MAX_QUERY = 1000;

const MAX_TEXT = 500;
const MAX_LIST = 10;

export class History {
  readonly #file: HistoryFile;
  readonly #log: Logger;
  readonly #onChange: ((entry: HistoryEntry) => void) | undefined;
  readonly #running = new Set<HistoryEntry>();
  /** The last pause of each service, and when its timeout ends it (its resume's hold time is measured from it). */
  readonly #paused = new Map<string, { since: number; until: number }>();
  #seq = 0;

  constructor(opts: HistoryOptions) {
    this.#file = opts.file;
    this.#log = opts.log;
    this.#onChange = opts.onChange;
  }

  get file(): string {
    return this.#file.file;
  }

  /** Read the file; an unreadable one is logged and the history starts empty (it is not worth refusing to serve). */
  async load(): Promise<void> {
    try {
      const { entries, skipped } = await this.#file.load();
      if (skipped > 0) this.#log.warn({ file: this.#file.file, skipped }, 'history lines skipped (unreadable)');
      this.#log.debug({ file: this.#file.file, entries }, 'history loaded');
    } catch (err) {
      this.#log.error({ file: this.#file.file, err: (err as Error).message }, 'history file not read');
    }
  }

  /**
   * Read the file again: after `baton upgrade`, the predecessor wrote its last record (the
   * upgrade's own) once this process had read the file.
   */
  reread(): Promise<void> {
    return this.load();
  }

  /** Begin recording a swap that has taken its service's lock. */
  swap(kind: 'deploy' | 'rollback' | 'promote' | 'canary', service: string, version: string, previous: string | null, by: Caller, detail: Record<string, unknown> = {}): SwapRecording {
    const began = performance.now();
    const entry = this.#entry(kind, service, version, previous, by, detail);
    this.#running.add(entry);
    this.#changed(entry);
    let ended = false;
    const end = (): void => {
      ended = true;
      entry.ended_at = new Date().toISOString();
      entry.ms = round(performance.now() - began);
      this.#running.delete(entry);
      this.#changed(entry);
      this.#persist(entry);
    };
    return {
      emit: (e) => {
        if (ended) return;
        if (!isDone(e)) {
          entry.steps.push({ ...trimmed(e), step: e.step, ms: e.ms, at_ms: round(performance.now() - began) } as HistoryStep);
          this.#changed(entry);
          return;
        }
        this.#finishSwap(entry, e);
        end();
      },
      fault: (err) => {
        if (ended) return;
        const e = err instanceof BatonError ? err : new BatonError('INTERNAL', err instanceof Error ? err.message : String(err));
        entry.outcome = 'failed';
        entry.error = { code: e.code, message: e.message };
        end();
      },
    };
  }

  /**
   * Begin recording `baton upgrade` in the process that runs it: the record is written when it
   * has ended, before the new process is let go (it reads the file again then).
   */
  upgrade(by: Caller): UpgradeRecording {
    const began = performance.now();
    const steps: HistoryStep[] = [];
    return {
      emit: (e) => {
        if (!isUpgradeDone(e)) steps.push({ ...e, at_ms: round(performance.now() - began) });
      },
      ended: (done) => {
        const outcome = done.ok ? { detail: { pid: done.pid, previous_pid: done.previous_pid } } : { error: { code: done.error.code, message: done.error.message, step: done.error.step }, detail: { previous_pid: process.pid } };
        this.record('upgrade', null, { by, ms: performance.now() - began, steps, ...outcome });
        return this.flushed();
      },
    };
  }

  /** Record a change that has ended (pause, resume, maintenance, reload, upgrade: `ms` is how long it took). */
  record(
    kind: Exclude<HistoryKind, 'deploy' | 'rollback' | 'promote' | 'canary'>,
    service: string | null,
    fields: { version?: string | null; by: Caller; ms?: number; hold_ms?: number | null; error?: HistoryEntry['error']; steps?: HistoryStep[]; detail?: Record<string, unknown> },
  ): HistoryEntry {
    const entry = this.#entry(kind, service, fields.version ?? null, null, fields.by, fields.detail ?? {});
    const now = Date.now();
    if (service !== null && kind === 'pause') {
      const timeout = fields.detail?.timeout_ms;
      this.#paused.set(service, { since: now, until: typeof timeout === 'number' ? now + timeout : Infinity });
    }
    if (service !== null && kind === 'resume') {
      const paused = this.#paused.get(service);
      this.#paused.delete(service);
      // A pause with a timeout ended by itself then, if that came first.
      if (paused !== undefined) fields = { ...fields, hold_ms: Math.min(now, paused.until) - paused.since };
    }
    const ms = fields.ms ?? 0;
    entry.started_at = new Date(now - ms).toISOString();
    entry.ended_at = new Date(now).toISOString();
    entry.ms = round(ms);
    entry.hold_ms = fields.hold_ms ?? null;
    entry.steps = fields.steps ?? [];
    entry.outcome = fields.error === undefined || fields.error === null ? 'ok' : 'failed';
    entry.error = fields.error ?? null;
    this.#changed(entry);
    this.#persist(entry);
    return entry;
  }

  /** Records newest first (by start time), swaps under way included; `service` alone when given. */
  query(opts: { service?: string; n?: number; kind?: HistoryKind } = {}): HistoryEntry[] {
    const n = Math.min(opts.n ?? MAX_QUERY, MAX_QUERY);
    const match = (e: HistoryEntry): boolean => (opts.service === undefined || e.service === opts.service) && (opts.kind === undefined || e.kind === opts.kind);
    // Oldest first as kept; newest first by start time, later-kept first among equal times.
    const all = [...this.#file.entries.filter(match), ...[...this.#running].filter(match)].map((e, i) => ({ e, i, t: Date.parse(e.started_at) }));
    all.sort((a, b) => b.t - a.t || b.i - a.i);
    return all.slice(0, n).map((x) => x.e);
  }

  /** Whether any record names `service` (one removed by a reload still has its history). */
  knows(service: string): boolean {
    return this.#file.entries.some((e) => e.service === service) || [...this.#running].some((e) => e.service === service);
  }

  /** Resolves when every record so far is on disk. */
  flushed(): Promise<void> {
    return this.#file.flushed();
  }

  #finishSwap(entry: HistoryEntry, done: DoneEvent): void {
    if (done.ok) {
      entry.outcome = 'ok';
      entry.version = done.version;
      entry.previous = done.previous ?? entry.previous;
      entry.hold_ms = done.hold_ms;
      return;
    }
    entry.outcome = 'failed';
    entry.error = { code: done.error.code, message: done.error.message, step: done.error.step };
    const resume = entry.steps.find((s) => s.step === 'resume');
    entry.hold_ms = typeof resume?.hold_ms === 'number' ? resume.hold_ms : null;
  }

  #entry(kind: HistoryKind, service: string | null, version: string | null, previous: string | null, by: Caller, detail: Record<string, unknown>): HistoryEntry {
    const now = Date.now();
    return {
      id: `${now.toString(36)}-${process.pid.toString(36)}-${(++this.#seq).toString(36)}`,
      kind,
      service,
      version,
      previous,
      started_at: new Date(now).toISOString(),
      ended_at: null,
      ms: null,
      steps: [],
      hold_ms: null,
      outcome: 'running',
      error: null,
      by,
      detail,
    };
  }

  #changed(entry: HistoryEntry): void {
    try {
      this.#onChange?.(entry);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'history listener failed');
    }
  }

  #persist(entry: HistoryEntry): void {
    this.#file.append(entry).catch((err: unknown) => this.#log.error({ file: this.#file.file, err: (err as Error).message }, 'history record not written'));
  }
}

/** A step event's fields, with long texts and lists cut (a migration's output). */
function trimmed(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (typeof v === 'string') out[k] = v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT)}...` : v;
    else if (Array.isArray(v)) out[k] = v.slice(-MAX_LIST).map((x) => (typeof x === 'string' && x.length > MAX_TEXT ? `${x.slice(0, MAX_TEXT)}...` : x));
    else out[k] = v;
  }
  return out;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
