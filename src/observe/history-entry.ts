/**
 * The deploy history's records (issue 16), as the history file holds them, `GET /v1/history`
 * returns them and `baton history` prints them. Types only.
 */

/** Who asked for a change. */
export type Caller =
  /** The control socket (its file mode is the access control). */
  | { via: 'socket' }
  /** The TCP control listener, with the name of the token that was presented, from `address`. */
  | { via: 'tcp'; token: string; address: string }
  /** A signal to the Baton process (SIGHUP: reload; SIGUSR2: upgrade). */
  | { via: 'signal'; signal: string };

export type HistoryKind = 'deploy' | 'rollback' | 'promote' | 'canary' | 'pause' | 'resume' | 'maintenance' | 'reload' | 'upgrade';

/** One step of a swap, as its event said it, and when it ended (ms after the entry began). */
export interface HistoryStep {
  step: string;
  ms: number;
  at_ms: number;
  [key: string]: unknown;
}

export interface HistoryEntry {
  /** Unique within the file: start time and a counter. */
  id: string;
  kind: HistoryKind;
  /** null for a reload or an upgrade (they concern Baton as a whole). */
  service: string | null;
  /** The version the change went to (the new one, the rollback target, the canary; for a pause, the active one). */
  version: string | null;
  /** The version active before. */
  previous: string | null;
  /** RFC 3339. */
  started_at: string;
  ended_at: string | null;
  /** Wall time from start to end. */
  ms: number | null;
  steps: HistoryStep[];
  /** How long new requests were held (a swap's switch, a migration's hold, a pause until its resume). */
  hold_ms: number | null;
  outcome: 'running' | 'ok' | 'failed';
  error: { code: string; message: string; step?: string } | null;
  by: Caller;
  /** What else the kind says: a canary's percent, a pause's timeout, a maintenance message, what a reload changed. */
  detail: Record<string, unknown>;
}

/** `GET /v1/history`. */
export interface HistoryBody {
  history: HistoryEntry[];
}
