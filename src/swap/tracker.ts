import type { Service, SwapKind } from '../service.js';
import type { Metrics } from '../metrics.js';
import type { BatonError } from '../errors.js';
import type { Caller, History } from '../observe/history.js';
import type { DoneEvent, SwapEvent } from './swap.js';

/** What a swap is, for the history: the version it goes to, who asked, and what else it says. */
export interface SwapWhat {
  version: string;
  by: Caller;
  detail?: Record<string, unknown>;
  /** The version it leaves (default: the active one). */
  previous?: string;
}

/**
 * The swaps running: each counted in metrics and recorded in the history, and awaited by
 * Baton's stop. A swap is recorded once it holds its service's lock: one refused (409) is not one.
 */
export class SwapTracker {
  readonly #running = new Set<Promise<DoneEvent>>();
  readonly #history: History;
  readonly #metrics: Metrics;
  /** Why no swap may start now (Baton stopping, upgrading), if so. */
  readonly #refusal: () => BatonError | undefined;

  constructor(opts: { history: History; metrics: Metrics; refusal: () => BatonError | undefined }) {
    this.#history = opts.history;
    this.#metrics = opts.metrics;
    this.#refusal = opts.refusal;
  }

  get size(): number {
    return this.#running.size;
  }

  /** Every swap running, settled. */
  settled(): Promise<unknown> {
    return Promise.allSettled(this.#running);
  }

  run(service: Service, kind: SwapKind, what: SwapWhat, emit: (e: SwapEvent) => void, start: (relay: (e: SwapEvent) => void) => Promise<DoneEvent>): Promise<SwapEvent> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const lockedBefore = service.swapping !== undefined;
    const previous = what.previous ?? service.active?.version ?? null;
    let recording: ReturnType<History['swap']> | undefined;
    const record = (): ReturnType<History['swap']> => (recording ??= this.#history.swap(kind, service.name, what.version, previous, what.by, what.detail));
    const relay = (e: SwapEvent): void => {
      record().emit(e);
      emit(e);
    };
    let run: Promise<DoneEvent>;
    try {
      run = start(relay);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!lockedBefore && service.swapping !== undefined) record();
    this.#running.add(run);
    void run.then(
      (done) => {
        this.#running.delete(run);
        this.#metrics.swapped(service.name, kind, done.ok, done.ms);
      },
      (err: unknown) => {
        this.#running.delete(run);
        recording?.fault(err);
      },
    );
    return run;
  }
}
