/**
 * `baton reload` (and SIGHUP): the new config, validated in full by its loader, applied to the
 * running Baton as a diff (config/diff.ts). Added services start health-gated and are routed
 * once healthy; removed ones leave the routing table, drain and stop; changed ones take their
 * new settings in place. The routing table is replaced in one assignment, so connections and
 * WebSockets of unchanged routes are never touched.
 * The reload command (one at a time, recorded in the history) is `Reloader`.
 */
import type { Logger } from 'pino';
import type { Config, ServiceConfig } from './config/types.js';
import { diffConfig, type ConfigDiff } from './config/diff.js';
import { loadConfig } from './config/load.js';
import type { Runtime } from './runtime/runtime.js';
import type { Service } from './service.js';
import { BatonError } from './errors.js';
import type { Caller, History } from './observe/history.js';
import type { TlsEdge } from './tls/edge.js';

export interface ReloadReport extends ConfigDiff {
  ok: true;
  ms: number;
  /** Added services that did not come up (they are not routed); the rest of the reload applied. */
  failed: Array<{ service: string; error: { code: string; message: string } }>;
}

/** What a reload works on: Baton's services and listeners. */
export interface ReloadTarget {
  readonly services: Map<string, Service>;
  makeService(config: ServiceConfig): Promise<Service>;
  /** A runtime for `config` when the runtime kind changed (process <-> docker). */
  makeRuntime(config: ServiceConfig, service: Service): Promise<Runtime>;
  bringUp(service: Service): Promise<void>;
  /** Drain and stop a removed service (in the background: the reload does not wait). */
  retire(service: Service): void;
  route(services: Service[]): void;
  /** limits and trusted_proxies, in place. */
  reconfigure(next: Config): void;
  persist(): Promise<void>;
}

export async function applyReload(target: ReloadTarget, running: Config, next: Config, log: Logger): Promise<ReloadReport> {
  const began = performance.now();
  const diff = diffConfig(running, next);
  for (const name of diff.removed) {
    const swapping = target.services.get(name)?.swapping;
    if (swapping !== undefined) {
      throw new BatonError('SWAP_IN_PROGRESS', `cannot remove ${name}: a ${swapping.kind} to ${swapping.version} is running`, { details: { service: name } });
    }
  }
  // Changed services: new settings in place (the next deploy starts with the new runtime ones).
  for (const change of diff.changed) {
    const service = target.services.get(change.service)!;
    const config = next.services[change.service]!;
    let runtime = service.runtime;
    if (config.runtime !== service.config.runtime) runtime = await target.makeRuntime(config, service);
    else runtime.reconfigure?.(config);
    service.reconfigure(config, runtime);
  }
  // Added services come up before they are routed.
  const failed: ReloadReport['failed'] = [];
  const added: Service[] = [];
  await Promise.all(
    diff.added.map(async (name) => {
      const service = await target.makeService(next.services[name]!);
      try {
        await target.bringUp(service);
        added.push(service);
      } catch (err) {
        const e = err instanceof BatonError ? err : new BatonError('START_FAILED', (err as Error).message);
        failed.push({ service: name, error: { code: e.code, message: e.message } });
        service.shutdown();
      }
    }),
  );
  const removed = diff.removed.map((name) => target.services.get(name)!);
  for (const s of added) target.services.set(s.name, s);
  for (const s of removed) target.services.delete(s.name);
  target.route([...target.services.values()]);
  target.reconfigure(next);
  for (const s of removed) target.retire(s);
  await target.persist().catch((err: unknown) => log.error({ err }, 'state file not written'));
  const report: ReloadReport = {
    ok: true,
    ...diff,
    added: diff.added.filter((name) => added.some((s) => s.name === name)),
    failed,
    ms: Math.round((performance.now() - began) * 10) / 10,
  };
  log.info(report, 'config reloaded');
  return report;
}

/** What the reload command works with, besides its target. */
export interface ReloaderOptions {
  target: ReloadTarget;
  log: Logger;
  history: History;
  /** The config applied now. */
  config(): Config;
  /** A reload applied `next`: it is the config now. */
  applied(next: Config): void;
  /** The TLS edge, when there is one: a new config's certificates are checked first. */
  tls(): TlsEdge | undefined;
  /** Why no reload may start now (an upgrade running, Baton stopping), if one may not. */
  refusal(): BatonError | undefined;
}

/**
 * The reload command: re-read the config file and apply it. One at a time; an invalid file
 * changes nothing; each reload, applied or not, is recorded in the history.
 */
export class Reloader {
  readonly #opts: ReloaderOptions;
  #running: Promise<ReloadReport> | undefined;

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
  }

  /** Whether a reload is under way. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  reload(by: Caller): Promise<ReloadReport> {
    if (this.#running !== undefined) return Promise.reject(new BatonError('RELOAD_IN_PROGRESS', 'a reload is already running'));
    const refused = this.#opts.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const file = this.#opts.config().file;
    if (file === '<default>') return Promise.reject(new BatonError('BAD_REQUEST', 'Baton serves its embedded default: there is no config file to reload (start it with -c FILE)'));
    const { history } = this.#opts;
    const began = performance.now();
    const run = (async () => {
      const next = await loadConfig(file);
      // Certificates are read and checked first: a bad one fails the reload and changes nothing (issue 11).
      const applyTls = await this.#opts.tls()?.prepare(next);
      const report = await applyReload(this.#opts.target, this.#opts.config(), next, this.#opts.log);
      await applyTls?.();
      this.#opts.applied(next);
      return report;
    })();
    void run.then(
      (r) => history.record('reload', null, { by, ms: performance.now() - began, detail: { added: r.added, removed: r.removed, changed: r.changed.map((c) => c.service), failed: r.failed, applied: r.global, restart_required: r.restart_required } }),
      (err: unknown) => {
        const e = err instanceof BatonError ? err : new BatonError('INTERNAL', (err as Error).message);
        history.record('reload', null, { by, ms: performance.now() - began, error: { code: e.code, message: e.message } });
      },
    );
    this.#running = run;
    void run.then(
      () => (this.#running = undefined),
      () => (this.#running = undefined),
    );
    return run;
  }
}
