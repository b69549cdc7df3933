/**
 * `baton upgrade`: what the running Baton and its successor say to each other over the IPC
 * channel of the successor's process, and how the listening sockets go across (file
 * descriptors inherited at spawn: the successor accepts on them only once it is ready).
 */

/** The listeners handed over, by name. */
export type ListenerName = 'public' | 'control' | 'control-tcp' | 'tls';

/** The successor's descriptors, from the environment (BATON_UPGRADE). */
export interface SuccessorFds {
  /** Where its log goes once the old Baton is gone: the old one's own stderr. */
  stderr: number;
  listeners: Partial<Record<ListenerName, number>>;
}

/** Successor -> predecessor. */
export type SuccessorMessage =
  /** Every service's instances are adopted and healthy. */
  | { type: 'adopted'; services: Record<string, { version: string; instances: number; canary?: string }> }
  /** Listening on the inherited sockets: it may take over. */
  | { type: 'ready'; pid: number }
  | { type: 'failed'; error: { code: string; message: string } };

/** Predecessor -> successor. */
export type PredecessorMessage =
  /** First, before the successor starts anything: what it carries over that is not in the state file. */
  | { type: 'state'; ticketKeys?: string }
  /** The old Baton stopped accepting: the successor is Baton now (its log moves off the pipe). */
  | { type: 'handover' }
  /** The old Baton has drained and is exiting. */
  | { type: 'done' };

export const UPGRADE_ENV = 'BATON_UPGRADE';

export function parseSuccessorFds(text: string | undefined): SuccessorFds | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const v = JSON.parse(text) as SuccessorFds;
    if (typeof v.stderr !== 'number' || typeof v.listeners !== 'object' || v.listeners === null) return undefined;
    return v;
  } catch {
    return undefined;
  }
}
