/**
 * The idle keep-alive connections to one upstream, reused most recently used first (so the
 * ones the app may be about to time out are the ones left idle). One timer per pool sweeps the
 * idle ones past `idleMs`, none per connection. Knows nothing of HTTP: the transport puts its
 * connections here when their exchange is over and takes them back for the next one.
 */

export interface PooledConnection {
  /** Closed, or going: never handed out again. */
  readonly gone: boolean;
  /** When it last went idle (performance.now()). */
  idleSince: number;
  destroy(): void;
}

export interface PoolOptions {
  /** Idle connections older than this are closed (below a typical app's keep-alive timeout). */
  idleMs: number;
  /** Idle connections kept at most; more are closed when given back. */
  maxIdle: number;
}

export class ConnectionPool<C extends PooledConnection> {
  readonly #opts: PoolOptions;
  /** Idle connections, most recently used last. */
  #idle: C[] = [];
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: PoolOptions) {
    this.#opts = opts;
  }

  get idle(): number {
    return this.#idle.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * An idle connection that is still fresh at `now` (performance.now(), the caller's read: no
   * clock read here), or undefined (the caller opens a new one).
   */
  take(now: number): C | undefined {
    for (;;) {
      const conn = this.#idle.pop();
      if (conn === undefined) return undefined;
      if (conn.gone) continue;
      // The sweep runs every idleMs/4: one past idleMs may be about to be closed by the app.
      if (now - conn.idleSince > this.#opts.idleMs) {
        conn.destroy();
        continue;
      }
      return conn;
    }
  }

  /** Take back a connection whose request and response are both complete, idle since `now` (performance.now()). */
  give(conn: C, now: number): void {
    if (conn.gone) return;
    if (this.#closed || this.#idle.length >= this.#opts.maxIdle) {
      conn.destroy();
      return;
    }
    conn.idleSince = now;
    this.#idle.push(conn);
    if (this.#sweep === undefined) {
      this.#sweep = setInterval(this.#sweepIdle, Math.max(100, this.#opts.idleMs / 4));
      this.#sweep.unref();
    }
  }

  /** An idle connection went away by itself (the app closed it, or sent bytes nobody asked for). */
  forget(conn: C): void {
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
  }

  /** Close every idle connection, and every one given back from now on. */
  close(): void {
    this.#closed = true;
    const idle = this.#idle;
    this.#idle = [];
    for (const c of idle) c.destroy();
    this.#stopSweep();
  }

  #sweepIdle = (): void => {
    const cutoff = performance.now() - this.#opts.idleMs;
    // Oldest first: the bottom of the stack.
    let n = 0;
    while (n < this.#idle.length && this.#idle[n]!.idleSince < cutoff) n++;
    if (n > 0) for (const c of this.#idle.splice(0, n)) c.destroy();
    if (this.#idle.length === 0) this.#stopSweep();
  };

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}
