import { formatDuration } from '../config/duration.js';
import http from 'node:http';
import type { ExitInfo, Instance } from '../runtime/runtime.js';
import type { HealthConfig } from '../config/types.js';
import { sleep } from './upstream.js';

/** The result of waiting for a new version to become healthy. */
export type HealthResult =
  | { ok: true; probes: number }
  | { ok: false; reason: 'exited'; exit: ExitInfo; probes: number; lastStatus: string }
  | { ok: false; reason: 'unhealthy'; probes: number; lastStatus: string }
  | { ok: false; reason: 'deadline'; probes: number; lastStatus: string }
  | { ok: false; reason: 'aborted'; probes: number; lastStatus: string };

/** One HTTP probe: the status code, or a short description of why there was none. */
export function probe(host: string, port: number, path: string, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent: false, timeout: timeoutMs, headers: { 'user-agent': 'baton-health' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${formatDuration(timeoutMs)}`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/**
 * Probe at once, then every interval, until `healthyThreshold` consecutive 2xx (and the
 * runtime's own health, if any, says healthy), the instance exits, or the deadline passes.
 */
export async function waitHealthy(instance: Instance, health: HealthConfig, signal?: AbortSignal, onProbe?: (probes: number, last: string) => void): Promise<HealthResult> {
  const deadline = performance.now() + health.deadlineMs;
  let exit: ExitInfo | undefined;
  void instance.exited.then((e) => {
    exit = e;
  });
  let probes = 0;
  let streak = 0;
  let lastStatus = 'no probe yet';
  const stop = signal ?? new AbortController().signal;
  const exitedOrAborted = new AbortController();
  void instance.exited.then(() => exitedOrAborted.abort());
  const wake = AbortSignal.any([stop, exitedOrAborted.signal]);

  for (;;) {
    if (exit !== undefined) return { ok: false, reason: 'exited', exit, probes, lastStatus };
    if (stop.aborted) return { ok: false, reason: 'aborted', probes, lastStatus };
    const left = deadline - performance.now();
    if (left <= 0) return { ok: false, reason: 'deadline', probes, lastStatus };

    probes++;
    const timeout = Math.min(health.timeoutMs, left);
    const status = await probe(instance.host, instance.port, health.path, timeout);
    // A probe cut short by the deadline says nothing about the app: keep what the last full
    // probe said (a deploy that fails should name the app's real answer, e.g. "HTTP 503").
    const cutByDeadline = typeof status === 'string' && status.startsWith('no answer within') && timeout < health.timeoutMs && probes > 1;
    if (!cutByDeadline) lastStatus = typeof status === 'number' ? `HTTP ${status}` : status;
    onProbe?.(probes, lastStatus);
    streak = typeof status === 'number' && status >= 200 && status < 300 ? streak + 1 : 0;
    const native = await instance.nativeHealth();
    if (native === 'unhealthy') return { ok: false, reason: 'unhealthy', probes, lastStatus: `${lastStatus}, runtime health: unhealthy` };
    if (streak >= health.healthyThreshold && (native === 'healthy' || native === 'none')) return { ok: true, probes };
    if (native === 'starting') lastStatus += ', runtime health: starting';
    await sleep(Math.min(health.intervalMs, Math.max(0, deadline - performance.now())), wake);
  }
}
