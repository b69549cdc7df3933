/**
 * The one observer the proxy is given, made of several (metrics, the dashboard's series, the
 * access log when it is on). Each hook is a list of the bound methods its members have, made
 * again when the access log is turned on or off, so a request costs one call per member that
 * cares and no check for the ones that do not.
 */
import type { ProxyObserver } from '../proxy/request-path.js';
import type { ExchangeRecord } from '../proxy/exchange-state.js';
import type { UpgradeRecord } from '../proxy/upgrades.js';
import type { Downstream } from '../proxy/downstream.js';
import type { HoldOutcome } from '../swap/gate.js';
import type { Duplex } from 'node:stream';

type Hooks = { [K in keyof Required<ProxyObserver>]: Array<NonNullable<ProxyObserver[K]>> };

const HOOKS = ['requestFinished', 'held', 'upstreamError', 'upgradeFinished', 'refused', 'rejected'] as const;

export class Observers implements Required<ProxyObserver> {
  readonly #fixed: readonly ProxyObserver[];
  #hooks: Hooks = { requestFinished: [], held: [], upstreamError: [], upgradeFinished: [], refused: [], rejected: [] };

  /** `fixed`: the members always there (metrics, series). */
  constructor(fixed: readonly ProxyObserver[]) {
    this.#fixed = fixed;
    this.set(undefined);
  }

  /** The members now: the fixed ones and `extra` (the access log, or undefined when it is off). */
  set(extra: ProxyObserver | undefined): void {
    const members = extra === undefined ? this.#fixed : [...this.#fixed, extra];
    const hooks = { requestFinished: [], held: [], upstreamError: [], upgradeFinished: [], refused: [], rejected: [] } as unknown as Record<(typeof HOOKS)[number], unknown[]>;
    for (const m of members) {
      for (const hook of HOOKS) {
        const fn = m[hook] as ((...args: never[]) => void) | undefined;
        // Looked up now, on the member as it is: a bench build may have removed one (metrics off).
        if (typeof fn === 'function') hooks[hook].push(fn.bind(m));
      }
    }
    this.#hooks = hooks as unknown as Hooks;
  }

  requestFinished(record: ExchangeRecord): void {
    const fns = this.#hooks.requestFinished;
    for (let i = 0; i < fns.length; i++) fns[i]!(record);
  }

  held(service: string, outcome: HoldOutcome, ms: number): void {
    for (const fn of this.#hooks.held) fn(service, outcome, ms);
  }

  upstreamError(service: string, kind: string): void {
    for (const fn of this.#hooks.upstreamError) fn(service, kind);
  }

  upgradeFinished(record: UpgradeRecord): void {
    for (const fn of this.#hooks.upgradeFinished) fn(record);
  }

  refused(req: Downstream, status: number, kind: string, requestId: string): void {
    for (const fn of this.#hooks.refused) fn(req, status, kind, requestId);
  }

  rejected(socket: Duplex, secure: boolean, status: number): void {
    for (const fn of this.#hooks.rejected) fn(socket, secure, status);
  }
}
