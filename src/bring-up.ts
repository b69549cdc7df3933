/**
 * Bringing a service up when Baton starts (or a reload adds it): serve the remembered version,
 * else the version of healthy running instances Baton left behind, else the configured one.
 * Running instances of the chosen version that answer their health check are adopted, not
 * restarted; every other instance Baton left behind for the service is removed.
 */
import type { Instance } from './runtime/runtime.js';
import type { Service } from './service.js';
import type { SavedService } from './state/store.js';
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

async function isUp(instance: Instance, service: Service): Promise<boolean> {
  const status = await probe(instance.host, instance.port, service.config.health.path, service.config.health.timeoutMs);
  if (typeof status !== 'number' || status < 200 || status >= 300) return false;
  const native = await instance.nativeHealth();
  return native === 'healthy' || native === 'none';
}

/** A listen error as the operator needs it: which key, which address, what to do. */
export function listenError(err: NodeJS.ErrnoException, key: string, at: { host: string; port: number }): BatonError {
  const address = at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
  const details = { key, address };
  if (err.code === 'EADDRINUSE') return new BatonError('LISTEN_FAILED', `${key}: ${address} is already in use`, { cause: err, details });
  if (err.code === 'EACCES') return new BatonError('LISTEN_FAILED', `${key}: ${address} needs privileges to bind (a port below 1024?)`, { cause: err, details });
  if (err.code === 'EADDRNOTAVAIL') return new BatonError('LISTEN_FAILED', `${key}: ${address} is not an address of this machine`, { cause: err, details });
  return new BatonError('LISTEN_FAILED', `${key}: cannot listen on ${address}: ${err.message}`, { cause: err, details });
}
