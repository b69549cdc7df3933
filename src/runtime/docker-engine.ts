/**
 * Talking to the Docker engine: the labels Baton puts on its containers, call timeouts,
 * decoding the engine's errors, and the one composite call every path ends with (stop, then
 * remove, treating "already stopped" and "already gone" as success). Shared by the runtime,
 * its instances and the image policy; holds no state.
 */

import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { BatonError } from '../errors.js';

/** Labels Baton puts on the containers it starts; `findRunning` selects by the first two. */
export const LABELS = {
  managed: 'baton.managed',
  service: 'baton.service',
  version: 'baton.version',
  port: 'baton.port',
  network: 'baton.network',
} as const;

/** Bound on every short engine call (inspect, create, start, list, remove). */
export const API_TIMEOUT_MS = 30_000;

/** Docker stop (SIGTERM, then SIGKILL after the grace) and remove; already stopped or gone is success. */
export async function stopAndRemove(container: Dockerode.Container, graceMs: number): Promise<void> {
  const t = Math.max(0, Math.ceil(graceMs / 1000));
  try {
    await container.stop({ t, abortSignal: callSignal(t * 1000 + API_TIMEOUT_MS) });
  } catch (err) {
    const code = statusCodeOf(err);
    if (code !== 304 && code !== 404) throw stopError(container, err);
  }
  try {
    await container.remove({ force: true, abortSignal: callSignal(API_TIMEOUT_MS) });
  } catch (err) {
    const code = statusCodeOf(err);
    // 409: a removal is already in progress (a concurrent stop of the same container).
    if (code !== 404 && code !== 409) throw stopError(container, err);
  }
}

function stopError(container: Dockerode.Container, err: unknown): BatonError {
  return new BatonError('INTERNAL', `could not stop container ${container.id.slice(0, 12)}: ${messageOf(err)}`, { cause: err });
}

/** `baton-<service>-<version>-<6 hex>`, with characters Docker refuses in names replaced. */
export function containerName(service: string, version: string): string {
  const safe = (s: string): string => s.replace(/[^a-zA-Z0-9_.-]/g, '-');
  return `baton-${safe(service)}-${safe(version)}-${randomBytes(3).toString('hex')}`;
}

/** Nanoseconds since the epoch of an RFC 3339 time with up to 9 fractional digits, for ordering. */
export function createdNs(created: string): bigint {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(created);
  if (!match?.[1]) return 0n;
  const seconds = BigInt(Math.floor(Date.parse(`${match[1]}${match[3]}`) / 1000));
  return seconds * 1_000_000_000n + BigInt((match[2] ?? '').padEnd(9, '0').slice(0, 9));
}

/** A timeout for one engine call, also ended by `outer` (a deploy being aborted). */
export function callSignal(ms: number, outer?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return outer ? AbortSignal.any([outer, timeout]) : timeout;
}

export function throwIfAborted(signal: AbortSignal | undefined, details: Record<string, unknown>): void {
  if (signal?.aborted) throw new BatonError('ABORTED', 'start was aborted', { cause: signal.reason, details });
}

/** The HTTP status of an engine error (404 no such container or image, 304 already stopped...). */
export function statusCodeOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The engine's own message when it sent one, without docker-modem's "(HTTP code 500) server error - ". */
export function messageOf(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message.trim();
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

/** For engine calls that take no AbortSignal. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const signalOnAbort = (): void => reject(signal.reason);
    if (signal.aborted) return signalOnAbort();
    signal.addEventListener('abort', signalOnAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', signalOnAbort));
  });
}

/** A pause that never keeps the process alive by itself (Baton may be exiting meanwhile). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms).unref();
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
