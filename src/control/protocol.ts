/**
 * The control API's wire types, shared by the server (control/server.ts) and the CLI.
 */
import type { ServiceStatus } from '../service.js';
import type { SwapEvent } from '../swap/swap.js';
import type { Instance } from '../runtime/runtime.js';
import type { LogRecord } from './logs.js';

export type { ServiceStatus, SwapEvent, LogRecord };

export interface StatusBody {
  services: Record<string, ServiceStatus>;
  baton: { version: string; pid: number; listen: string; forwarder: string; uptime_s: number };
}

export interface ErrorBody {
  error: { code: string; message: string; [key: string]: unknown };
}

export interface DeployRequest {
  version: string;
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
  state: 'serving' | 'swapping' | 'paused';
  released: number;
}
export interface NotifyReply {
  service: string;
  browsers: number;
}

/** What the control server needs from Baton; Baton implements it. */
export interface ControlApi {
  status(): StatusBody;
  /** Rejects with a BatonError before the first event when the swap cannot begin (404, 409, 422). */
  deploy(service: string, version: string, emit: (e: SwapEvent) => void): Promise<SwapEvent>;
  rollback(service: string, emit: (e: SwapEvent) => void): Promise<SwapEvent>;
  pause(service: string, timeoutMs: number | undefined): PauseReply;
  resume(service: string): ResumeReply;
  notify(service: string, message: string): NotifyReply;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The running instances of the service's active version (for `baton logs`); throws UNKNOWN_SERVICE. */
  instances(service: string): readonly Instance[];
}
