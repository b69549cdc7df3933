/**
 * Bringing a service up when Baton starts (or a reload adds it): serve the remembered version,
 * else the version of healthy running instances Baton left behind, else the configured one.
 * Running instances of the chosen version that answer their health check are adopted, not
 * restarted; every other instance Baton left behind for the service is removed.
 */
import type { Instance } from './runtime/runtime.js';
import type { Service } from './service.js';
import type { SavedService, SavedState } from './state/store.js';
import { readMaintenancePage } from './maintenance.js';
import { startRelease, type SwapDeps } from './swap/swap.js';
import { Release } from './upstream/release.js';
import { Upstream } from './upstream/upstream.js';
import { probe } from './upstream/health.js';
import { BatonError } from './errors.js';

const QUIET = { step: (): void => {}, progress: (): void => {} };

export interface BringUpOptions {
  /** Only adopt what runs (a `baton upgrade`): an instance that cannot be adopted fails the bring-up, none is started. */
  adoptOnly?: boolean;
}

export async function bringUp(service: Service, remembered: SavedService | undefined, deps: Pick<SwapDeps, 'health' | 'signal' | 'stopGraceMs'>, opts: BringUpOptions = {}): Promise<void> {
  const log = service.log;
  const running = await service.runtime.findRunning([...(remembered?.instances ?? []), ...(remembered?.canary?.instances ?? [])]);
  const adopted: Instance[] = [];
  // Newest first, so an older one of the same version (a deploy cut short) is the fallback.
  for (const candidate of running) {
    if (adopted.length >= service.config.replicas) break;
    if (remembered !== undefined && candidate.version !== remembered.version) continue;
    if (adopted.length > 0 && candidate.version !== adopted[0]!.version) continue;
    if (await isUp(candidate, service)) adopted.push(candidate);
  }
  let release: Release;
  if (opts.adoptOnly === true && adopted.length < service.config.replicas) {
    throw new BatonError('ADOPTION_FAILED', `${service.name}: ${adopted.length} of ${service.config.replicas} instances of ${remembered?.version ?? service.config.version} could be adopted (running and healthy)`, {
      details: { service: service.name, found: running.length, adopted: adopted.length },
    });
  }
  if (adopted.length > 0) {
    // Fewer running than `replicas`: start the rest of the same version beside them.
    const version = adopted[0]!.version;
    const missing = service.config.replicas - adopted.length;
    const more = missing > 0 ? (await startRelease(service, version, deps, QUIET, missing)).upstreams.map((u) => u.instance) : [];
    for (const i of adopted) log.info({ version, id: i.id }, 'running instance adopted');
    release = new Release(version, [...adopted, ...more].map((i) => new Upstream(i)), service.config.loadBalancing);
  } else {
    const version = remembered?.version ?? service.config.version;
    release = await startRelease(service, version, deps, QUIET).catch((err: unknown) => {
      const e = err instanceof BatonError ? err : new BatonError('START_FAILED', String(err));
      throw new BatonError(e.code, `${e.message} (service ${service.name}, version ${version})`, { details: { ...e.details, service: service.name, version } });
    });
  }
  service.adopt(release, remembered?.previous);
  // A canary outlives a restart of Baton when its instances do (an upgrade, Docker).
  const canary = remembered?.canary;
  const canaryInstances: Instance[] = [];
  if (canary !== undefined && canary.version !== release.version) {
    for (const candidate of running) if (candidate.version === canary.version && canaryInstances.length < service.config.replicas && (await isUp(candidate, service))) canaryInstances.push(candidate);
    if (canaryInstances.length > 0) {
      service.startCanary(new Release(canary.version, canaryInstances.map((i) => new Upstream(i)), service.config.loadBalancing), canary.percent);
      log.info({ version: canary.version, percent: canary.percent }, 'canary adopted');
    } else if (opts.adoptOnly === true) throw new BatonError('ADOPTION_FAILED', `${service.name}: the canary ${canary.version} could not be adopted`, { details: { service: service.name } });
  }
  const paused = remembered?.paused;
  if (paused !== undefined && (paused.until === null || paused.until > Date.now())) service.pause(paused.until === null ? undefined : paused.until - Date.now());
  // Taking over from a running Baton: what else runs is its own (a version it drains).
  if (opts.adoptOnly === true) return;
  // The rest are leftovers (replaced while Baton was down, or cut short by a crash): remove
  // them in the background, so serving the adopted ones does not wait on their stop grace.
  // Started before the control socket opens, so no deploy's new container is among them.
  const kept = [...release.upstreams.map((u) => u.instance), ...canaryInstances];
  const removing = service.runtime.removeStale
    ? service.runtime.removeStale(kept, deps.stopGraceMs)
    : Promise.all(running.filter((other) => !kept.includes(other)).map((other) => other.stop(deps.stopGraceMs)));
  void removing.catch((err: unknown) => log.warn({ err }, 'stale instances not removed'));
}

/**
 * Bring every service up in parallel (Baton is ready only when all are), each held at its gate
 * meanwhile: its requests wait as in a swap's hold. A service in maintenance when Baton stopped
 * is so again. `ready` runs once all are up, before any gate opens (a successor accepts then).
 */
export async function bringUpAll(services: readonly Service[], saved: SavedState, deps: Pick<SwapDeps, 'health' | 'signal' | 'stopGraceMs'>, opts: { adoptOnly: boolean; ready: (() => Promise<void>) | undefined }): Promise<void> {
  for (const s of services) s.gate.hold('swap');
  try {
    await Promise.all(
      services.map(async (s) => {
        const remembered = saved.services[s.name];
        await bringUp(s, remembered, deps, { adoptOnly: opts.adoptOnly });
        if (remembered?.maintenance !== undefined) s.setMaintenance({ ...remembered.maintenance, page: await readMaintenancePage(s) });
      }),
    );
    await opts.ready?.();
  } finally {
    for (const s of services) s.gate.release('swap');
  }
}

async function isUp(instance: Instance, service: Service): Promise<boolean> {
  const status = await probe(instance.host, instance.port, service.config.health.path, service.config.health.timeoutMs);
  if (typeof status !== 'number' || status < 200 || status >= 300) return false;
  const native = await instance.nativeHealth();
  return native === 'healthy' || native === 'none';
}
