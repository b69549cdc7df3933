/**
 * `baton reload` (and SIGHUP): the new config, validated in full by its loader, applied to the
 * running Baton as a diff (config/diff.ts). Added services start health-gated and are routed
 * once healthy; removed ones leave the routing table, drain and stop; changed ones take their
 * new settings in place. The routing table is replaced in one assignment, so connections and
 * WebSockets of unchanged routes are never touched.
 */
import type { Logger } from 'pino';
import type { Config, ServiceConfig } from './config/types.js';
import { diffConfig, type ConfigDiff } from './config/diff.js';
import type { Runtime } from './runtime/runtime.js';
import type { Service } from './service.js';
import { BatonError } from './errors.js';

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
