import type { Instance } from '../runtime/runtime.js';
import { LinkedSet } from '../linked-set.js';
import { ConnectionPool } from './pool.js';
import type { UpstreamConnection } from './connection.js';

/** A proxied WebSocket pair, as the upstream sees it. */
export interface TrackedSocket {
  /** Close the client side with 1012 (service restart) and the upstream side; resolves when both are gone. */
  closeForRestart(): Promise<void>;
  /** Destroy both sides now. */
  destroy(): void;
}

export interface DrainOptions {
  timeoutMs: number;
  websocketGraceMs: number;
  /** Aborting ends the wait early: everything left is cut as on timeout. */
  signal?: AbortSignal;
  /**
   * Aborting ends the drain at once and cuts nothing: this upstream is needed again (the new
   * version died after the switch and traffic comes back here).
   */
  reprieve?: AbortSignal;
}

export interface DrainReport {
  /** Requests still in flight at the timeout, cut with 504 or a closed stream. */
  cut: number;
  /** Long-lived streams (SSE) ended at the grace. */
  streamsEnded: number;
  /** WebSockets closed with 1012. */
  websocketsClosed: number;
  /** The drain was called off by `reprieve`: nothing was cut, the upstream is whole. */
  reprieved: boolean;
  ms: number;
}

/** What is in flight on an upstream: an exchange, as the drain sees it. */
export interface InFlight {
  /** A long-lived stream (server-sent events): ended at the drain grace, not waited for. */
  readonly isStream: boolean;
  cut(reason: CutReason): void;
}

/** Why the drain ends what is still in flight. */
export type CutReason =
  /** The grace is over for a long-lived stream: end it cleanly so the client reconnects. */
  | 'grace'
  /** The drain timeout: 504 if nothing was sent yet, else cut the stream. */
  | 'timeout';

const EJECT_MS = 1000;
const EJECT_MAX_MS = 30_000;

/** Idle keep-alive connections to an app are closed before a typical app's own timeout (Node: 5 s). */
const POOL = { idleMs: 4000, maxIdle: 256 };

/**
 * One running instance of a service as the data plane sees it: where to send requests, its
 * pool of keep-alive connections, and what is in flight on it (requests and WebSockets), so
 * that a swap can drain exactly this instance and nothing else.
 */
export class Upstream {
  readonly instance: Instance;
  readonly address: string;
  readonly connections = new ConnectionPool<UpstreamConnection>(POOL);
  /** How many instances ran in this one's place before it (supervision replaced them). */
  readonly restarts: number;
  /** What the running health checks say (health.ts): false takes it out of the rotation. */
  healthy = true;
  /**
   * Set by supervision once this instance exited and its replacement waits out the backoff:
   * the crashes in a row of its slot, and when (epoch ms) the next start is due (status shows it).
   */
  restarting: { crashes: number; at: number } | undefined = undefined;
  #ejectedUntil = 0;
  #ejections = 0;
  /** Not a Set: see linked-set.ts (an exchange per request). */
  #inflight = new LinkedSet<InFlight>();
  #sockets = new Set<TrackedSocket>();
  #idleWaiters: Array<() => void> = [];
  #quietWaiters: Array<() => void> = [];

  constructor(instance: Instance, restarts = 0) {
    this.instance = instance;
    this.restarts = restarts;
    this.address = instance.host.includes(':') ? `[${instance.host}]:${instance.port}` : `${instance.host}:${instance.port}`;
  }

  /** In the rotation: running, healthy, and not ejected after a failed connection. */
  get available(): boolean {
    return this.healthy && this.instance.exitInfo === undefined && (this.#ejectedUntil === 0 || performance.now() >= this.#ejectedUntil);
  }

  get ejected(): boolean {
    return this.#ejectedUntil !== 0 && performance.now() < this.#ejectedUntil;
  }

  /**
   * Out of the rotation for a short backoff after a connection failure (passive health): 1 s,
   * doubling while it keeps failing, at most 30 s; a success (`served`) ends the backoff.
   */
  eject(): number {
    const ms = Math.min(EJECT_MAX_MS, EJECT_MS * 2 ** Math.min(this.#ejections, 5));
    this.#ejections++;
    this.#ejectedUntil = performance.now() + ms;
    return ms;
  }

  /** An answer came back: whatever ejection there was is over. */
  served(): void {
    if (this.#ejections === 0) return;
    this.#ejections = 0;
    this.#ejectedUntil = 0;
  }

  get version(): string {
    return this.instance.version;
  }
  get host(): string {
    return this.instance.host;
  }
  get port(): number {
    return this.instance.port;
  }
  get inflight(): number {
    return this.#inflight.size;
  }
  get websockets(): number {
    return this.#sockets.size;
  }

  /** An exchange begins on this upstream. */
  track(exchange: InFlight): void {
    this.#inflight.add(exchange);
  }

  /** An exchange on this upstream is over (its answer ended or it was cut). Idempotent. */
  untrack(exchange: InFlight): void {
    if (!this.#inflight.delete(exchange)) return;
    if (this.#quietWaiters.length > 0 && this.#requests() === 0) {
      const waiters = this.#quietWaiters;
      this.#quietWaiters = [];
      for (const w of waiters) w();
    }
    if (this.#inflight.size > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Wait until no request is in flight here, long-lived streams (SSE) and WebSockets aside:
   * a migration inside the hold runs once the old version can no longer see it mid-request.
   * What is still in flight at `timeoutMs` is cut (504). Resolves with how many were cut.
   */
  async quiesce(timeoutMs: number, signal?: AbortSignal): Promise<number> {
    if (this.#requests() > 0) {
      const outer = signal ?? new AbortController().signal;
      const local = new AbortController();
      const either = AbortSignal.any([outer, local.signal]);
      await Promise.race([
        new Promise<void>((resolve) => {
          const done = (): void => {
            either.removeEventListener('abort', done);
            resolve();
          };
          this.#quietWaiters.push(done);
          either.addEventListener('abort', done, { once: true });
        }),
        sleep(timeoutMs, either),
      ]);
      local.abort();
    }
    let cut = 0;
    for (const ex of this.#inflight.values()) {
      if (ex.isStream) continue;
      cut++;
      ex.cut('timeout');
    }
    return cut;
  }

  #requests(): number {
    let n = 0;
    for (const ex of this.#inflight) if (!ex.isStream) n++;
    return n;
  }

  trackSocket(socket: TrackedSocket): void {
    this.#sockets.add(socket);
  }

  untrackSocket(socket: TrackedSocket): void {
    this.#sockets.delete(socket);
  }

  /**
   * Wait for in-flight requests to finish, up to the timeout, then cut the rest. Long-lived
   * streams and WebSockets keep working for the grace, then are ended so clients reconnect
   * (to whatever is active by then). Call only once no new traffic is routed here.
   */
  async drain(opts: DrainOptions): Promise<DrainReport> {
    const started = performance.now();
    const grace = Math.min(opts.websocketGraceMs, opts.timeoutMs);
    const report: DrainReport = { cut: 0, streamsEnded: 0, websocketsClosed: 0, reprieved: false, ms: 0 };
    // `outer` ends every wait (Baton shutting down); `local` ends the timeout once idle.
    const outer = opts.signal ?? new AbortController().signal;
    const reprieve = opts.reprieve ?? new AbortController().signal;
    const local = new AbortController();
    const either = AbortSignal.any([outer, local.signal, reprieve]);
    const graceOver = AbortSignal.any([outer, reprieve]);
    try {
      // Long-lived streams and WebSockets get the whole grace even when requests finish first.
      const graceDone = (async () => {
        if (this.#sockets.size === 0 && !this.#hasStreams()) return;
        await sleep(grace, graceOver);
        if (reprieve.aborted) return;
        for (const ex of this.#inflight.values()) {
          if (ex.isStream) {
            report.streamsEnded++;
            ex.cut('grace');
          }
        }
        const sockets = [...this.#sockets];
        report.websocketsClosed = sockets.length;
        await Promise.all(sockets.map((s) => s.closeForRestart()));
      })();
      const timedOut = await Promise.race([
        this.#whenIdle(either).then(() => outer.aborted),
        sleep(opts.timeoutMs, either).then(() => true),
      ]);
      report.reprieved = reprieve.aborted;
      if (timedOut && !reprieve.aborted) {
        for (const ex of this.#inflight.values()) {
          report.cut++;
          ex.cut('timeout');
        }
      }
      local.abort();
      await graceDone;
      if (!reprieve.aborted) for (const s of [...this.#sockets]) s.destroy();
    } finally {
      local.abort();
    }
    report.ms = performance.now() - started;
    return report;
  }

  /** It has stopped: its pooled connections go (in-flight ones end with their exchange). */
  close(): void {
    this.connections.close();
  }

  #hasStreams(): boolean {
    for (const ex of this.#inflight) if (ex.isStream) return true;
    return false;
  }

  #whenIdle(signal: AbortSignal): Promise<void> {
    if (this.#inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#idleWaiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Sleep that resolves early (never rejects) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
