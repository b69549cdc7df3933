import type { Socket } from 'node:net';
import type { LimitsConfig } from '../../config/types.js';
import type { HeadLimits, RequestHead } from '../../http1/types.js';
import { LinkedSet } from '../../linked-set.js';
import { H1Connection } from './connection.js';
import type { H1Downstream } from './downstream.js';

/** The listener limits Baton's HTTP/1.1 server reads (the whole LimitsConfig is passed, updated in place by a reload). */
export type H1Limits = Pick<LimitsConfig, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxHeaderSize' | 'maxHeadersCount' | 'maxBodyBytes'>;

export interface H1ServerOptions {
  limits: H1Limits;
  /** Whether connections come over TLS (X-Forwarded-Proto, the secure flag of requests). */
  secure: boolean;
  /** How often timeouts are checked (one timer for all connections). */
  checkIntervalMs: number;
  request(req: H1Downstream): void;
  /** A WebSocket upgrade: the socket is the handler's from now on, `rest` the bytes read past the head. */
  upgrade(head: RequestHead, socket: Socket, rest: Buffer): void;
  /** node:http's handling of a connection, from its current request on. */
  handOff(socket: Socket): void;
  /** Bytes refused before they were a request (the parser's rejection, a 408): answered already. */
  rejected(socket: Socket, status: number): void;
}

/**
 * Baton's own HTTP/1.1 server side: accepts connections, keeps them (and their timeouts, one
 * timer for all), and knows what they share: limits, the Date header, whether Baton is stopping.
 */
export class H1Server {
  readonly limits: H1Limits;
  headLimits: HeadLimits;
  readonly secure: boolean;
  keepAliveSeconds: number;
  readonly #opts: H1ServerOptions;
  /** Not a Set: see linked-set.ts (a connection per request made every one outlive its scavenge). */
  readonly #conns = new LinkedSet<H1Connection>();
  #timer: NodeJS.Timeout | undefined;
  #dateSecond = -1;
  #dateText = '';
  /** Stopping: connections end after their answer in flight, idle ones now. */
  closing = false;
  /** While closing, how long a connection may sit idle before it is ended. */
  closingIdleMs = 0;

  constructor(opts: H1ServerOptions) {
    this.#opts = opts;
    this.limits = opts.limits;
    this.secure = opts.secure;
    this.headLimits = { maxHeadBytes: opts.limits.maxHeaderSize, maxHeaders: opts.limits.maxHeadersCount };
    this.keepAliveSeconds = Math.floor(opts.limits.keepAliveTimeoutMs / 1000);
  }

  /** `limits` changed in place (a reload): what is derived from them follows. */
  reconfigure(limits: H1Limits): void {
    this.headLimits = { maxHeadBytes: limits.maxHeaderSize, maxHeaders: limits.maxHeadersCount };
    this.keepAliveSeconds = Math.floor(limits.keepAliveTimeoutMs / 1000);
  }

  get maxBody(): number {
    return this.limits.maxBodyBytes;
  }

  get connections(): number {
    return this.#conns.size;
  }

  accept(socket: Socket): void {
    if (this.#timer === undefined) {
      this.#timer = setInterval(this.#check, this.#opts.checkIntervalMs);
      this.#timer.unref();
    }
    this.#conns.add(new H1Connection(socket, this));
  }

  forget(conn: H1Connection): void {
    this.#conns.delete(conn);
  }

  request(req: H1Downstream): void {
    this.#opts.request(req);
  }

  upgrade(head: RequestHead, socket: Socket, rest: Buffer): void {
    this.#opts.upgrade(head, socket, rest);
  }

  rejected(socket: Socket, status: number): void {
    this.#opts.rejected(socket, status);
  }

  handOff(socket: Socket): void {
    this.#opts.handOff(socket);
  }

  /** The IMF-fixdate of now, made at most once a second. */
  date(): string {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.#dateSecond) {
      this.#dateSecond = second;
      this.#dateText = new Date(now).toUTCString();
    }
    return this.#dateText;
  }

  /**
   * Handing over to another process on the same socket: every connection ends after its next
   * answer (Connection: close), so its client reconnects there. One left idle for `idleMs` is
   * ended. Closing idle connections at once instead would race a request a client is sending
   * on one right then (HAProxy's idle-close-on-response does the same).
   */
  closeAfterAnswers(idleMs: number): void {
    this.closing = true;
    this.closingIdleMs = idleMs;
  }

  /** Close idle connections; busy ones close after their answer. */
  closeIdle(): void {
    this.closing = true;
    for (const conn of this.#conns) conn.closeIfIdle();
  }

  closeAll(): void {
    this.closing = true;
    for (const conn of this.#conns) conn.socket.destroy();
    this.#stopTimer();
  }

  #check = (): void => {
    if (this.#conns.size === 0 && this.closing) return this.#stopTimer();
    const now = performance.now();
    for (const conn of this.#conns) conn.check(now);
  };

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
