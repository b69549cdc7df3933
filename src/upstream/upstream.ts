import http from 'node:http';
import type { Instance } from '../runtime/runtime.js';
import { Exchange } from './exchange.js';

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

/**
 * One running version of a service as the data plane sees it: where to send requests, a
 * keep-alive pool to it, and what is in flight on it (requests and WebSockets), so that the
 * swap can drain exactly this version and nothing else.
 */
export class Upstream {
  readonly instance: Instance;
  #agent: http.Agent | undefined;
  /** What `close()` releases besides the agent (forwarders' own pools); undefined once closed. */
  #onClose: Array<() => void> | undefined = [];
  #inflight = new Set<Exchange>();
  #sockets = new Set<TrackedSocket>();
  #idleWaiters: Array<() => void> = [];

  constructor(instance: Instance) {
    this.instance = instance;
  }

  /**
   * A keep-alive pool to this upstream, for forwarders built on node:http (the default `net`
   * forwarder keeps its own pool). Made on first use.
   */
  get agent(): http.Agent {
    this.#agent ??= new http.Agent({
      keepAlive: true,
      maxFreeSockets: 256,
      // Close pooled sockets before a typical upstream's keep-alive timeout (Node: 5 s) so we
      // rarely write to a socket the upstream is closing (the keep-alive reuse race).
      timeout: 4000,
      scheduling: 'lifo',
    });
    return this.#agent;
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
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }
  get inflight(): number {
    return this.#inflight.size;
  }
  get websockets(): number {
    return this.#sockets.size;
  }

  /** Register a request on this upstream; the exchange's finish() unregisters it. */
  begin(): Exchange {
    const exchange: Exchange = new Exchange(() => {
      this.#inflight.delete(exchange);
      if (this.#inflight.size === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    });
    this.#inflight.add(exchange);
    return exchange;
  }

  /** Track a proxied WebSocket; call the returned function when it has closed. */
  trackSocket(socket: TrackedSocket): () => void {
    this.#sockets.add(socket);
    return () => {
      this.#sockets.delete(socket);
    };
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
        for (const ex of [...this.#inflight]) {
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
        for (const ex of [...this.#inflight]) {
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

  /** Run `release` when this upstream closes (at once if it has): for pools kept outside it. */
  onClose(release: () => void): void {
    if (this.#onClose === undefined) release();
    else this.#onClose.push(release);
  }

  /** Release pooled keep-alive sockets. */
  close(): void {
    this.#agent?.destroy();
    const releases = this.#onClose ?? [];
    this.#onClose = undefined;
    for (const release of releases) release();
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
