/**
 * What GET /v1/status shows of one service: its state, active, previous and canary versions,
 * each instance of them, what is held, in flight and draining, and the swap under way.
 */
import type { Release } from './upstream/release.js';
import type { Service, ServiceState, SwapKind } from './service.js';

/** The body of one service in GET /v1/status (the contract's fields first). */
export interface ServiceStatus {
  state: ServiceState;
  active: { version: string; address: string; id: string } | null;
  previous: { version: string } | null;
  inflight: number;
  queued: number;
  /** Whether every instance of the active version runs and passes its health checks. */
  healthy: boolean;
  /** The active version's instances. */
  replicas: ReplicaStatus[];
  canary: { version: string; percent: number; replicas: ReplicaStatus[] } | null;
  websockets: number;
  hosts: string[];
  paths: string[];
  swapping: (SwapProgress & { elapsed_ms: number }) | null;
  maintenance: { message: string; since: string } | null;
  paused_until: string | null;
  draining: Array<{ version: string; inflight: number; websockets: number }>;
}

export interface ReplicaStatus {
  address: string;
  id: string;
  healthy: boolean;
  inflight: number;
  restarts: number;
  /** Out of the rotation for a backoff after a failed connection (passive health). */
  ejected: boolean;
  /** The slot's instance exited and supervision waits to replace it: crashes in a row (0: running). */
  crashes_in_a_row: number;
  /** When the replacement is due (ISO time), while it waits its backoff; else null. */
  restart_at: string | null;
}

/** The swap in progress, as status shows it (the CLI prints it while a deploy waits). */
export interface SwapProgress {
  version: string;
  kind: SwapKind;
  /** The step under way (the steps completed are in the deploy's event stream), and since when (epoch ms). */
  step: string;
  step_started_at: number;
  /** Health probes sent so far, and what the last one said. */
  probes: number;
  last_probe: string | null;
}

/** The status body of `service`, as it is now. */
export function serviceStatus(service: Service): ServiceStatus {
  const a = service.active;
  const releases = service.releases();
  const first = a?.upstreams[0];
  const canary = service.canary;
  const previous = service.previousVersion;
  const swap = service.swapping;
  const maintenance = service.maintenance;
  const pausedUntil = service.pausedUntil;
  return {
    state: service.state,
    active: a === undefined || first === undefined ? null : { version: a.version, address: first.address, id: first.instance.id },
    previous: previous === undefined ? null : { version: previous },
    inflight: releases.reduce((n, r) => n + r.inflight, 0),
    queued: service.gate.queued,
    healthy: a !== undefined && a.upstreams.every((u) => u.healthy && u.instance.exitInfo === undefined),
    replicas: a === undefined ? [] : replicaStatus(a),
    canary: canary === undefined ? null : { version: canary.release.version, percent: canary.percent, replicas: replicaStatus(canary.release) },
    websockets: releases.reduce((n, r) => n + r.websockets, 0),
    hosts: service.config.hosts,
    paths: service.config.paths,
    swapping: swap === undefined ? null : { ...swap, elapsed_ms: Date.now() - swap.step_started_at },
    maintenance: maintenance === undefined ? null : { message: maintenance.message, since: new Date(maintenance.since).toISOString() },
    paused_until: pausedUntil === undefined ? null : new Date(pausedUntil).toISOString(),
    draining: service.draining.map((r) => ({ version: r.version, inflight: r.inflight, websockets: r.websockets })),
  };
}

function replicaStatus(release: Release): ReplicaStatus[] {
  return release.upstreams.map((u) => ({
    address: u.address,
    id: u.instance.id,
    healthy: u.healthy && u.instance.exitInfo === undefined,
    inflight: u.inflight,
    restarts: u.restarts,
    ejected: u.ejected,
    crashes_in_a_row: u.restarting?.crashes ?? 0,
    restart_at: u.restarting === undefined ? null : new Date(u.restarting.at).toISOString(),
  }));
}
