/**
 * The upgrade command: replace this process with a new Baton from the installed code, its
 * listeners and apps handed over (handover.ts). One at a time, never during a swap or a reload,
 * never as PID 1, and only with the config file still the config applied; recorded in the history.
 */
import { BatonError } from '../errors.js';
import type { Config } from '../config/types.js';
import type { Caller, History } from '../observe/history.js';
import { upgrade, type UpgradeDone, type UpgradeEvent, type UpgradeHost } from './handover.js';
import { checkConfigUnchanged, type UpgradeOptions } from './host.js';

export interface UpgraderOptions {
  /** How `baton start` starts the next Baton; without it, upgrade is refused. */
  options: UpgradeOptions | undefined;
  history: History;
  /** The config applied now, and the one this process started with. */
  config(): Config;
  startConfig: Config;
  /** Why no upgrade may start now (Baton stopping, a reload or a swap running), if one may not. */
  refusal(): BatonError | undefined;
  /** The running Baton as the hand-over sees it. */
  host(opts: UpgradeOptions, ended: UpgradeHost['ended']): UpgradeHost;
  /** The successor took over: end what is left and let this process exit. */
  finish(): Promise<void>;
}

/** The one upgrade of this process: refused while another runs, kept once handed over. */
export class Upgrader {
  readonly #opts: UpgraderOptions;
  #running: Promise<UpgradeDone> | undefined;

  constructor(opts: UpgraderOptions) {
    this.#opts = opts;
  }

  /** Whether an upgrade is under way (or has handed over: this process then decides nothing). */
  get running(): boolean {
    return this.#running !== undefined;
  }

  upgrade(emit: (e: UpgradeEvent | UpgradeDone) => void, given: { readyTimeoutMs?: number; by: Caller }): Promise<UpgradeDone> {
    const opts = this.#opts.options;
    if (opts === undefined) return Promise.reject(new BatonError('BAD_REQUEST', 'this Baton was not started by `baton start`: it cannot start a successor'));
    if (this.#running !== undefined) return Promise.reject(new BatonError('UPGRADE_IN_PROGRESS', 'an upgrade is already running'));
    // A container's PID 1 ending ends the container, successor included.
    if (process.pid === 1) return Promise.reject(new BatonError('BAD_REQUEST', 'Baton runs as PID 1 (a container without an init): its exit would end the container with the new process; run the container with --init'));
    const refused = this.#opts.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const run = (async () => {
      await checkConfigUnchanged(this.#opts.config(), this.#opts.startConfig);
      const { by, readyTimeoutMs = opts.readyTimeoutMs } = given;
      // Recorded here, where the steps and the caller are; a successor reads it once let go.
      const recording = this.#opts.history.upgrade(by);
      const relay = (e: UpgradeEvent | UpgradeDone): void => {
        recording.emit(e);
        emit(e);
      };
      const done = await upgrade(this.#opts.host({ ...opts, ...(readyTimeoutMs === undefined ? {} : { readyTimeoutMs }) }, recording.ended), relay);
      if (done.ok) void this.#opts.finish();
      return done;
    })();
    this.#running = run;
    void run.then(
      (done) => {
        if (!done.ok) this.#running = undefined;
      },
      () => (this.#running = undefined),
    );
    return run;
  }
}
