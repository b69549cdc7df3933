import type { Service } from '../service.js';
import type { SavedInstance } from '../runtime/runtime.js';
import type { Release } from '../upstream/release.js';
import type { SavedState } from './store.js';

/** What the state file keeps of a release's process-runtime instances (Docker finds its own by label). */
function descriptors(release: Release): SavedInstance[] {
  return release.upstreams.flatMap((u) => (u.instance.descriptor === undefined || u.instance.exitInfo !== undefined ? [] : [u.instance.descriptor()]));
}

/** What the next Baton needs to know of each service: versions, instances to adopt, a canary, maintenance, a pause. */
export function snapshotOf(services: ReadonlyMap<string, Service>): SavedState {
  const state: SavedState = { services: {} };
  for (const [name, s] of services) {
    const active = s.active;
    if (active === undefined) continue;
    const m = s.maintenance;
    const canary = s.canary;
    const paused = s.paused;
    const instances = descriptors(active);
    state.services[name] = {
      version: active.version,
      ...(s.previousVersion === undefined ? {} : { previous: s.previousVersion }),
      ...(m === undefined ? {} : { maintenance: { message: m.message, since: m.since } }),
      ...(instances.length === 0 ? {} : { instances }),
      ...(canary === undefined ? {} : { canary: { version: canary.release.version, percent: canary.percent, instances: descriptors(canary.release) } }),
      ...(paused === undefined ? {} : { paused }),
    };
  }
  return state;
}
