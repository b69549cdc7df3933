/**
 * The control API's wire types, shared by the server (control/server.ts) and the CLI.
 */
import type { ServiceStatus } from '../service-status.js';
import type { SwapEvent } from '../swap/swap.js';
import type { Instance } from '../runtime/runtime.js';
import type { LogRecord } from './logs.js';
import type { UpgradeDone, UpgradeEvent } from '../upgrade/handover.js';
import type { Caller, HistoryBody, HistoryEntry, HistoryKind } from '../observe/history-entry.js';
import type { SeriesBody } from '../observe/series.js';
import type { LiveEvent } from '../observe/live.js';

export type { ServiceStatus, SwapEvent, LogRecord, UpgradeDone, UpgradeEvent, Caller, HistoryBody, HistoryEntry, SeriesBody, LiveEvent };

export interface StatusBody {
  services: Record<string, ServiceStatus>;
  baton: { version: string; pid: number; started_at: string; listen: string; uptime_s: number };
  /** The TLS listener, its certificates and ACME's progress (issue 11); absent without `tls`. */
  tls?: import('../tls/edge.js').TlsStatus;
}

export interface ErrorBody {
  error: { code: string; message: string; [key: string]: unknown };
}

export interface DeployRequest {
  version: string;
  /** Percent of clients (1-99) for a canary instead of a switch. */
  canary?: number;
}
export interface PauseRequest {
  timeout?: string;
}
export interface NotifyRequest {
  message: string;
}

export interface PauseReply {
  service: string;
  state: 'paused';
  timeout_ms: number | null;
}
export interface ResumeReply {
  service: string;
  state: import('../service.js').ServiceState;
  released: number;
}
export interface MaintenanceReply {
  service: string;
  maintenance: boolean;
  message: string | null;
  state: import('../service.js').ServiceState;
}
export interface NotifyReply {
  service: string;
  browsers: number;
}

/** `GET /v1/history` query: one service, the newest N, one kind. */
export interface HistoryQuery {
  service?: string;
  n?: number;
  kind?: HistoryKind;
}

/**
 * What the control server needs from Baton; Baton implements it. `by`: who asked (the deploy
 * history records it); without it, the control socket.
 */
export interface ControlApi {
  status(): StatusBody;
  /** Rejects with a BatonError before the first event when the swap cannot begin (404, 409, 422). */
  deploy(service: string, version: string, emit: (e: SwapEvent) => void, opts?: { canary?: number; by?: Caller }): Promise<SwapEvent>;
  rollback(service: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent>;
  promote(service: string, emit: (e: SwapEvent) => void, by?: Caller): Promise<SwapEvent>;
  reload(by?: Caller): Promise<import('../reload.js').ReloadReport>;
  /** Rejects before the first event when an upgrade cannot begin (409: one is running, a swap is, the config file changed). */
  upgrade(emit: (e: UpgradeEvent | UpgradeDone) => void, opts?: { readyTimeoutMs?: number; by?: Caller }): Promise<UpgradeDone>;
  maintenance(service: string, on: boolean, message: string, by?: Caller): Promise<MaintenanceReply>;
  pause(service: string, timeoutMs: number | undefined, by?: Caller): PauseReply;
  resume(service: string, by?: Caller): ResumeReply;
  /** Past changes, newest first; throws UNKNOWN_SERVICE for a service neither configured nor in the history. */
  history(query: HistoryQuery): HistoryBody;
  /** The last minutes of every service, one point a second. */
  series(): SeriesBody;
  /** Hear history changes and the once-a-second ticks (the dashboard's stream) until the returned function is called. */
  subscribe(listener: (e: LiveEvent) => void): () => void;
  notify(service: string, message: string): NotifyReply;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The running instances of the service's active version (for `baton logs`); throws UNKNOWN_SERVICE. */
  instances(service: string): readonly Instance[];
}
