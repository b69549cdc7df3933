/**
 * The lifecycle of an exchange (exchange.ts), its transitions written in one place, and what
 * its end reports to metrics and the access log.
 */
import type { Upstream } from '../upstream/upstream.js';
import type { Downstream } from './downstream.js';
import type { ProxyErrorKind } from './error-pages.js';

export type ExchangeState =
  /** Routed, not sent anywhere yet. */
  | 'new'
  /** Waiting at its service's gate (a swap's hold, a pause); its body unread. */
  | 'held'
  /** Sent to an upstream, no response head yet (an attempt; a retry stays here). */
  | 'waiting'
  /** The response head went to the client; its body is streaming. */
  | 'streaming'
  | 'done';

/** The lifecycle, in one place. */
export const NEXT: Record<ExchangeState, readonly ExchangeState[]> = {
  new: ['held', 'waiting', 'done'],
  held: ['waiting', 'done'],
  waiting: ['waiting', 'streaming', 'done'],
  streaming: ['done'],
  done: [],
};

/** How an exchange ended, as the access log and metrics name it. */
export type Outcome = 'ok' | 'retried' | 'cut_by_drain' | 'client_aborted' | `upstream_error:${string}` | `baton:${ProxyErrorKind | 'maintenance'}`;

/** What the end of an exchange reports (metrics, access log). */
export interface ExchangeRecord {
  readonly service: string;
  readonly method: string;
  readonly path: string;
  readonly requestId: string;
  readonly status: number;
  readonly outcome: Outcome | undefined;
  readonly startedAt: number;
  /** Milliseconds from arrival to the end of the answer. */
  readonly durationMs: number;
  /** Milliseconds from the last dispatch to the response head (-1 if none came). */
  readonly firstByteMs: number;
  readonly heldMs: number;
  readonly attempts: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly upstream: Upstream | undefined;
  readonly downstream: Downstream;
  /** The client's address after trusted_proxies (computed when read). */
  readonly clientAddress: string;
  /** The W3C traceparent sent upstream, if any (computed when read). */
  readonly traceparent: string | undefined;
}
