/**
 * What `baton upgrade` needs of the running Baton (handover.ts drives it): its listeners, its
 * state, and the way it lets go. Also the checks before one starts, and the takeover's summary.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { diffConfig } from '../config/diff.js';
import { BatonError } from '../errors.js';
import type { Service } from '../service.js';
import type { ProxyServer } from '../proxy/server.js';
import type { ControlServer } from '../control/server.js';
import type { TlsEdge } from '../tls/edge.js';
import type { NoticeHub } from '../notify/hub.js';
import type { LogOutput } from '../log/output.js';
import type { UpgradeHost } from './handover.js';
import type { ListenerName } from './protocol.js';

/** How `baton start` starts the next Baton, and where this one logs; without it, upgrade is refused. */
export interface UpgradeOptions {
  command: UpgradeHost['command'];
  output: LogOutput;
  readyTimeoutMs?: number;
}

/** What each service runs, as a successor reports it once it has adopted everything. */
export type AdoptedSummary = Record<string, { version: string; instances: number; canary?: string }>;

/** Started by `baton upgrade`: adopt what runs (start nothing), then accept on the predecessor's sockets. */
export interface TakeoverPlan {
  listeners: Partial<Record<ListenerName, number>>;
  /** The predecessor's TLS session ticket keys: its clients' sessions resume here. */
  ticketKeys?: Buffer;
  /** Every instance is adopted and healthy; may refuse (then start() rejects). */
  adopted(services: AdoptedSummary): Promise<void>;
}

/** The running Baton's parts an upgrade acts on. */
export interface UpgradeParts {
  /** How it ended, recorded before it is said (the history). */
  ended: UpgradeHost['ended'];
  log: Logger;
  services: readonly Service[];
  proxy: ProxyServer | undefined;
  control: ControlServer | undefined;
  tls: TlsEdge | undefined;
  hub: NoticeHub;
  /** Baton's stop: ends drains early. */
  signal: AbortSignal;
  persist(): Promise<void>;
  /** From now on this process decides nothing (no state write, no restart of a crashed replica): the successor does. */
  letGo(): void;
  /** Listeners whose address a reload changed: not handed over, the successor binds the new one. */
  moved: ReadonlySet<ListenerName>;
}

/**
 * The listeners whose configured address differs from the one bound at start (a reload took
 * the change but could not apply it): an upgrade is how it applies, the successor binding them.
 */
export function movedListeners(started: Config, now: Config): Set<ListenerName> {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const moved = new Set<ListenerName>();
  if (!same(started.listen, now.listen)) moved.add('public');
  if (!same(started.tls?.listen, now.tls?.listen)) moved.add('tls');
  if (!same(started.control.socket, now.control.socket)) moved.add('control');
  if (!same(started.control.tcp?.listen, now.control.tcp?.listen)) moved.add('control-tcp');
  return moved;
}

export function upgradeRunning(): BatonError {
  return new BatonError('UPGRADE_IN_PROGRESS', 'Baton is upgrading itself: try again when `baton upgrade` is done');
}

export function adoptedSummary(services: ReadonlyMap<string, Service>): AdoptedSummary {
  const out: AdoptedSummary = {};
  for (const [name, s] of services) {
    const canary = s.canary?.release.version;
    out[name] = { version: s.active?.version ?? '', instances: s.upstreams().length, ...(canary === undefined ? {} : { canary }) };
  }
  return out;
}

/**
 * The file on disk must be the config applied: the successor reads it, and must not change what
 * runs. Its state file must be this process's (`started`): that is where the successor finds what to adopt.
 */
export async function checkConfigUnchanged(config: Config, started: Config): Promise<void> {
  if (config.stateFile !== started.stateFile) {
    throw new BatonError('CONFIG_CHANGED', `state_file changed from ${started.stateFile} to ${config.stateFile}: the new Baton would not find what runs; stop and start Baton to move it`);
  }
  const file = config.file;
  if (file === '<default>') return;
  const onDisk = await loadConfig(file).catch((err: unknown) => {
    throw new BatonError('CONFIG_CHANGED', `${file} no longer loads (${(err as Error).message}): fix it or reload first; the new Baton would read it`);
  });
  const d = diffConfig(config, onDisk);
  const changed = [...d.added, ...d.removed, ...d.changed.map((c) => c.service), ...d.global, ...d.restart_required];
  if (changed.length > 0) throw new BatonError('CONFIG_CHANGED', `${file} differs from the config applied (${changed.join(', ')}): run \`baton reload\` first, or restore the file`, { details: { changed } });
}

export function upgradeHost(opts: UpgradeOptions, parts: UpgradeParts): UpgradeHost {
  const { services, proxy, control, tls } = parts;
  return {
    ended: parts.ended,
    log: parts.log,
    command: opts.command,
    outputFd: opts.output.descriptor,
    tee: (chunk) => void opts.output.write(chunk),
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    listeners: () => {
      const p = proxy?.listeners();
      const c = control?.listeners();
      const all: Partial<Record<ListenerName, net.Server>> = { public: p?.public, tls: p?.tls, control: c?.control, 'control-tcp': c?.tcp };
      const out: Partial<Record<ListenerName, net.Server>> = {};
      for (const [name, server] of Object.entries(all) as [ListenerName, net.Server | undefined][]) if (server !== undefined && !parts.moved.has(name)) out[name] = server;
      return out;
    },
    ticketKeys: () => tls?.ticketKeys(),
    persist: () => parts.persist(),
    stopAccepting: () => {
      parts.letGo();
      for (const s of services) s.shutdown();
      // A control socket not handed over (its path moved) is this process's to remove.
      control?.handOver({ kept: !parts.moved.has('control') });
      parts.hub.close(1012, 'baton restarting');
      // Closed at once; its promise would wait for every connection to end.
      void proxy?.stopAccepting({ handover: true });
    },
    drain: async () => {
      const reports = await Promise.all(
        services.flatMap((s) => s.releases().map((r) => r.drain({ timeoutMs: s.config.drain.timeoutMs, websocketGraceMs: s.config.drain.websocketGraceMs, signal: parts.signal }))),
      );
      const sum = (k: 'cut' | 'websocketsClosed' | 'streamsEnded'): number => reports.reduce((n, r) => n + r[k], 0);
      return { cut: sum('cut'), websockets_closed: sum('websocketsClosed'), streams_ended: sum('streamsEnded') };
    },
  };
}
