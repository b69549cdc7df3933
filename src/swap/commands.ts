/**
 * The swap commands of the control API: deploy (or start a canary), rollback (or end a canary)
 * and promote. Each checks its request, picks the swap, and runs it through the tracker (one
 * at a time per service, recorded in the history).
 */
import { BatonError } from '../errors.js';
import { validateVersion } from '../config/values.js';
import type { Caller } from '../observe/history-entry.js';
import type { Service } from '../service.js';
import { endCanary, promote, startCanary, swap, type SwapDeps, type SwapEvent } from './swap.js';
import type { SwapTracker } from './tracker.js';

/** deploy, rollback and promote, given the service; the tracker keeps them one at a time. */
export class SwapCommands {
  readonly #swaps: SwapTracker;
  readonly #deps: () => SwapDeps;

  constructor(swaps: SwapTracker, deps: () => SwapDeps) {
    this.#swaps = swaps;
    this.#deps = deps;
  }

  /** Deploy `version`; with `canary`, start it as a canary taking that percentage of clients. */
  deploy(service: Service, version: string, emit: (e: SwapEvent) => void, opts: { canary?: number; by: Caller }): Promise<SwapEvent> {
    const bad = validateVersion(version);
    if (bad !== undefined) return Promise.reject(new BatonError('BAD_VERSION', `version ${JSON.stringify(version)}: ${bad}`));
    const canary = service.canary;
    if (canary !== undefined) {
      return Promise.reject(
        new BatonError('CANARY_IN_PROGRESS', `${service.name} has a canary of ${canary.release.version} at ${canary.percent}%: promote or roll it back first`, { details: { service: service.name, version: canary.release.version } }),
      );
    }
    const { canary: percent, by } = opts;
    if (percent !== undefined) {
      if (!Number.isInteger(percent) || percent < 1 || percent > 99) return Promise.reject(new BatonError('BAD_REQUEST', `canary: expected a percentage from 1 to 99, got ${JSON.stringify(percent)}`));
      return this.#swaps.run(service, 'canary', { version, by, detail: { percent } }, emit, (relay) => startCanary(service, version, percent, this.#deps(), relay));
    }
    return this.#swaps.run(service, 'deploy', { version, by }, emit, (relay) => swap(service, version, 'deploy', this.#deps(), relay));
  }

  /** Back to the previous version; during a canary, end the canary instead. */
  rollback(service: Service, emit: (e: SwapEvent) => void, by: Caller): Promise<SwapEvent> {
    const canary = service.canary;
    if (canary !== undefined) {
      const active = service.active?.version ?? canary.release.version;
      return this.#swaps.run(service, 'rollback', { version: active, by, detail: { canary: canary.release.version }, previous: canary.release.version }, emit, (relay) => endCanary(service, this.#deps(), relay));
    }
    const previous = service.previousVersion;
    if (previous === undefined) return Promise.reject(new BatonError('NO_PREVIOUS_VERSION', `${service.name} has no previous version to roll back to`));
    return this.#swaps.run(service, 'rollback', { version: previous, by }, emit, (relay) => swap(service, previous, 'rollback', this.#deps(), relay));
  }

  /** The canary becomes the active release. */
  promote(service: Service, emit: (e: SwapEvent) => void, by: Caller): Promise<SwapEvent> {
    return this.#swaps.run(service, 'promote', { version: service.canary?.release.version ?? '', by }, emit, (relay) => promote(service, this.#deps(), relay));
  }
}
