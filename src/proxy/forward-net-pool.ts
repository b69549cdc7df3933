import net from 'node:net';

/**
 * The read buffer of every upstream connection, WebSocket tunnels' included: reads are handled
 * one at a time, synchronously, and what outlives one is copied.
 */
export const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * The exchange currently using a connection. It hears everything the socket says until it
 * lets go (`ConnPool.release` or `UpstreamConn.destroy`); an idle connection's events are the
 * pool's own business.
 */
export interface ConnUser {
  /** The fresh connection is established: the request may be written. */
  onConnect(): void;
  /** Bytes from the upstream. `chunk` is reused by the next read: copy what outlives the call. */
  onConnData(chunk: Buffer): void;
  /** The socket wrote everything queued (request-body backpressure). */
  onConnDrain(): void;
  /**
   * The connection ended (FIN), failed or closed while in use; it is destroyed already. Called
   * at most once. `err` is undefined for a clean end (FIN or close without an error).
   */
  onConnGone(err: Error | undefined): void;
}

export interface ConnPoolOptions {
  /** Idle connections older than this are closed (below a typical app's keep-alive timeout). */
  idleMs: number;
  /** Idle connections kept at most; more are closed on release. */
  maxIdle: number;
}

/**
 * One TCP connection to an upstream. Its socket listeners are installed once, for the life of
 * the connection, and hand events to whoever uses it now: no per-request listeners.
 */
export class UpstreamConn {
  readonly socket: net.Socket;
  readonly #pool: ConnPool;
  user: ConnUser | undefined;
  /** Requests carried to completion; > 0 means the next one rides a reused connection. */
  uses = 0;
  idleSince = 0;
  #gone = false;
  #paused = false;

  constructor(pool: ConnPool, host: string, port: number, user: ConnUser) {
    this.#pool = pool;
    this.user = user;
    // Read into one shared buffer (no stream machinery, no allocation per read): a chunk is
    // handed to the user synchronously and is only valid during that call (see ConnUser).
    this.socket = net.connect({ host, port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.#socketOnRead } });
    this.socket.on('connect', this.#socketOnConnect);
    this.socket.on('drain', this.#socketOnDrain);
    this.socket.on('end', this.#socketOnEnd);
    this.socket.on('error', this.#socketOnError);
    this.socket.on('close', this.#socketOnClose);
  }

  get connecting(): boolean {
    return this.socket.connecting;
  }

  get gone(): boolean {
    return this.#gone;
  }

  /** Stop reading from the upstream (the client is slow to take the response). */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.socket.resume();
  }

  /** Close it for good, without telling the current user (who asked for it). */
  destroy(): void {
    this.user = undefined;
    this.#end(undefined);
  }

  #socketOnConnect = (): void => {
    this.user?.onConnect();
  };

  #socketOnRead = (n: number, buffer: Buffer): boolean => {
    const user = this.user;
    if (user !== undefined) user.onConnData(buffer.subarray(0, n));
    // Bytes on an idle connection belong to no request: it cannot be trusted any more.
    else this.#end(undefined);
    return true;
  };

  #socketOnDrain = (): void => {
    this.user?.onConnDrain();
  };

  #socketOnEnd = (): void => {
    this.#end(undefined);
  };

  #socketOnError = (err: Error): void => {
    this.#end(err);
  };

  #socketOnClose = (): void => {
    this.#end(undefined);
  };

  #end(err: Error | undefined): void {
    if (this.#gone) return;
    this.#gone = true;
    this.socket.destroy();
    const user = this.user;
    this.user = undefined;
    if (user !== undefined) user.onConnGone(err);
    else this.#pool.forget(this);
  }
}

/**
 * Keep-alive connections to one upstream address, reused most-recently-used first (so the
 * ones the app may be about to time out are the ones left idle). Idle connections are swept by
 * one timer per pool, not one per socket.
 */
export class ConnPool {
  readonly host: string;
  readonly port: number;
  readonly #opts: ConnPoolOptions;
  /** Idle connections, most recently used last. */
  #idle: UpstreamConn[] = [];
  #sweep: NodeJS.Timeout | undefined;

  constructor(host: string, port: number, opts: ConnPoolOptions) {
    this.host = host;
    this.port = port;
    this.#opts = opts;
  }

  get idle(): number {
    return this.#idle.length;
  }

  /** A connection for `user`: an idle one (ready at once) or a new one (wait for onConnect). */
  acquire(user: ConnUser): UpstreamConn {
    let now = 0;
    for (;;) {
      const conn = this.#idle.pop();
      if (conn === undefined) break;
      if (conn.gone) continue;
      // The sweep runs every idleMs/4: one past idleMs may be about to be closed by the app.
      now ||= performance.now();
      if (now - conn.idleSince > this.#opts.idleMs) {
        conn.destroy();
        continue;
      }
      conn.user = user;
      return conn;
    }
    return new UpstreamConn(this, this.host, this.port, user);
  }

  /** Give back a connection whose request and response are both complete. */
  release(conn: UpstreamConn): void {
    conn.user = undefined;
    conn.uses++;
    if (conn.gone) return;
    if (this.#idle.length >= this.#opts.maxIdle) {
      conn.destroy();
      return;
    }
    conn.resume();
    conn.idleSince = performance.now();
    this.#idle.push(conn);
    if (this.#sweep === undefined) {
      this.#sweep = setInterval(this.#sweepIdle, Math.max(100, this.#opts.idleMs / 4));
      this.#sweep.unref();
    }
  }

  /** An idle connection went away by itself (the app closed it). */
  forget(conn: UpstreamConn): void {
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
  }

  /** Close every idle connection (in-flight ones end with their exchange). */
  close(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const c of idle) c.destroy();
    this.#stopSweep();
  }

  #sweepIdle = (): void => {
    const cutoff = performance.now() - this.#opts.idleMs;
    // Oldest first: the stack's bottom.
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
