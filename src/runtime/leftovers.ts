/**
 * Apps a crashed Baton left running for services the config no longer has: nothing will adopt
 * them, so the next start stops them (known by pid and start time, never a recycled pid).
 */
import type { Logger } from 'pino';
import type { SavedState } from '../state/store.js';
import { AppProcess } from './app-process.js';

export async function stopLeftoverApps(saved: SavedState, configured: ReadonlySet<string>, graceMs: number, log: Logger): Promise<void> {
  const stops: Array<Promise<void>> = [];
  for (const [service, s] of Object.entries(saved.services)) {
    if (configured.has(service)) continue;
    for (const i of [...(s.instances ?? []), ...(s.canary?.instances ?? [])]) {
      const app = AppProcess.adopt(i.pid, i.start_time);
      if (app === undefined) continue;
      log.info({ service, version: i.version, app_pid: i.pid }, 'stopping an app of a service no longer configured');
      stops.push(
        (async () => {
          app.signal('SIGTERM');
          const timer = setTimeout(() => app.signal('SIGKILL'), graceMs);
          await app.exited;
          clearTimeout(timer);
        })(),
      );
    }
  }
  await Promise.all(stops);
}
