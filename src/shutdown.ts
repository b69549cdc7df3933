/**
 * How Baton ends: stopped (it drains, stops the instances it started, leaves containers running
 * to be adopted next time), handed over (a successor has everything: it lets go, stopping
 * nothing) or abandoned (a successor that could not take over).
 */
import type { Logger } from 'pino';
import type { ControlServer } from './control/server.js';
import type { NoticeHub } from './notify/hub.js';
import type { Observability } from './observe/observability.js';
import type { ProxyServer } from './proxy/server.js';
import type { Service } from './service.js';
import type { TlsEdge } from './tls/edge.js';

/** The running parts an ending acts on. */
export interface RunningParts {
  log: Logger;
  /** Read at each step: a reload under way may still add or remove one. */
  services(): Service[];
  proxy: ProxyServer | undefined;
  control: ControlServer | undefined;
  tls: TlsEdge | undefined;
  hub: NoticeHub;
  observe: Observability;
}

/**
 * Stop accepting, release held requests to whatever is active, let in-flight requests end
 * (up to the longest drain timeout), stop the processes Baton started, remove the socket.
 * `stopping` is aborted once the drains are done: swaps in progress end theirs early, and
 * `settled` (those swaps, and removed services retiring) is awaited so no state write is cut.
 */
export async function stopBaton(p: RunningParts, opts: { stopping: AbortController; settled: () => Promise<unknown>; stopGraceMs: number }): Promise<void> {
  p.log.info('baton stopping');
  const closing = p.proxy?.stopAccepting();
  for (const s of p.services()) s.shutdown();
  p.hub.close();
  const tlsStopped = p.tls?.stop();
  await drainAll(p.services());
  opts.stopping.abort();
  await opts.settled();
  p.proxy?.closeAll();
  await closing;
  await tlsStopped;
  await p.control?.close();
  await stopInstances(p.services(), opts.stopGraceMs);
  await p.observe.close();
  p.log.info('baton stopped');
}

/**
 * After a successful upgrade: end the control connections still open (the upgrade's stream),
 * let go of the apps, write the last records. The process may exit then.
 */
export async function finishHandover(p: RunningParts): Promise<void> {
  // No more certificate renewals or ticket rotation here: the successor does both.
  await p.tls?.stop();
  // Keep-alive connections end after their next answer or a second idle; what remains then is cut.
  const until = performance.now() + 5_000;
  while ((p.proxy?.connections ?? 0) > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
  p.proxy?.closeAll();
  await p.control?.close();
  letGoOfInstances(p.services());
  // The last access log lines and history records are written before exiting.
  await p.observe.close();
  p.log.info('handed over to the new Baton: exiting');
}

/**
 * A successor that cannot take over: close its copies of the sockets (the socket file stays,
 * its predecessor's) and let go of the apps it adopted, stopping none.
 */
export function abandon(p: RunningParts): void {
  for (const s of p.services()) s.shutdown();
  p.control?.handOver();
  void p.proxy?.stopAccepting();
  p.proxy?.closeAll();
  letGoOfInstances(p.services());
}

/** Let every release of `services` finish its requests, for at most the longest drain timeout. */
async function drainAll(services: readonly Service[]): Promise<void> {
  const drainMs = Math.max(0, ...services.map((s) => s.config.drain.timeoutMs));
  const deadline = AbortSignal.timeout(drainMs);
  await Promise.all(services.flatMap((s) => s.releases().map((r) => r.drain({ timeoutMs: drainMs, websocketGraceMs: 0, signal: deadline }))));
}

/** Close every upstream and stop the instances that do not outlive Baton (processes), then the runtimes. */
async function stopInstances(services: readonly Service[], stopGraceMs: number): Promise<void> {
  await Promise.all(
    services.flatMap((s) =>
      s.upstreams().map(async (u) => {
        u.close();
        if (!u.instance.survivesBaton) await u.instance.stop(stopGraceMs);
      }),
    ),
  );
  for (const s of services) s.runtime.close?.();
}

/** Close every upstream and runtime, stopping no instance: another Baton has them now (or keeps them). */
function letGoOfInstances(services: readonly Service[]): void {
  for (const s of services) {
    for (const u of s.upstreams()) u.close();
    s.runtime.close?.();
  }
}
