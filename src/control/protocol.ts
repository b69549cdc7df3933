/**
 * The control API's wire types, shared by the server (control/server.ts) and the CLI.
 */
import type { ServiceStatus } from '../service.js';
import type { SwapEvent } from '../swap/swap.js';
import type { Instance } from '../runtime/runtime.js';
import type { LogRecord } from './logs.js';
import type { UpgradeDone, UpgradeEvent } from '../upgrade/handover.js';

export type { ServiceStatus, SwapEvent, LogRecord, UpgradeDone, UpgradeEvent };

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

/** What the control server needs from Baton; Baton implements it. */
export interface ControlApi {
  status(): StatusBody;
  /** Rejects with a BatonError before the first event when the swap cannot begin (404, 409, 422). */
  deploy(service: string, version: string, emit: (e: SwapEvent) => void, opts?: { canary?: number }): Promise<SwapEvent>;
  rollback(service: string, emit: (e: SwapEvent) => void): Promise<SwapEvent>;
  promote(service: string, emit: (e: SwapEvent) => void): Promise<SwapEvent>;
  reload(): Promise<import('../reload.js').ReloadReport>;
  /** Rejects before the first event when an upgrade cannot begin (409: one is running, a swap is, the config file changed). */
  upgrade(emit: (e: UpgradeEvent | UpgradeDone) => void, opts?: { readyTimeoutMs?: number }): Promise<UpgradeDone>;
  maintenance(service: string, on: boolean, message: string): Promise<MaintenanceReply>;
  pause(service: string, timeoutMs: number | undefined): PauseReply;
  resume(service: string): ResumeReply;
  notify(service: string, message: string): NotifyReply;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The running instances of the service's active version (for `baton logs`); throws UNKNOWN_SERVICE. */
  instances(service: string): readonly Instance[];
}
