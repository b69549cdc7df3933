import http2, { type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { H2Downstream, type H2Owner } from './downstream.js';
import { tlsVersionOf } from '../tls-version.js';
import { LinkedSet } from '../../linked-set.js';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = http2.constants;

export interface H2Limits {
  /** Bytes of a request's header list at most (names, values and 32 per field, as RFC 9113 counts). */
  maxHeaderSize: number;
  maxHeadersCount: number;
  maxBodyBytes: number;
  /** An idle session (no open stream) is closed after this long. */
  keepAliveTimeoutMs: number;
}

/** Streams one session may have open at once (nginx: 128, Go: 250). */
export const MAX_CONCURRENT_STREAMS = 100;

/**
 * The Rapid Reset guard (CVE-2023-44487): a session whose client reset more than this many
 * streams Baton was still answering, within RESET_WINDOW_MS, gets GOAWAY (ENHANCE_YOUR_CALM)
 * and is closed. Browsers cancel a few streams on a navigation, not hundreds in seconds.
 */
export const MAX_CLIENT_RESETS = 200;
export const RESET_WINDOW_MS = 10_000;
/** After a flood's GOAWAY, the connection is closed this long later (if the client did not close it). */
const GOAWAY_GRACE_MS = 500;

export interface H2ServerOptions {
  limits: H2Limits;
  /** Streams come over TLS (always, from Baton's TLS listener; h2c is not offered). */
  secure: boolean;
  log: Logger;
  request(req: H2Downstream): void;
}

const kSession = Symbol('baton.h2session');

/**
 * Idle sessions are found by a sweep, IDLE_TICKS times a keep-alive timeout, rather than by
 * node:http2's session.setTimeout(), which re-arms its timer on every frame, write and
 * respond() of every stream. A session idle since tick t is closed at tick t + IDLE_TICKS + 1:
 * after 1 to 1.25 times the timeout.
 */
const IDLE_TICKS = 4;

/** What Baton keeps of one HTTP/2 session: the reset count of the flood guard. */
class SessionState implements H2Owner {
  /** Streams open now (node:http2 keeps no public count). */
  open = 0;
  resets = 0;
  windowStart = performance.now();
  /** The sweep's tick when the last stream closed (or the session began). */
  idleSince: number;
  readonly remoteAddress: string;
  readonly #server: H2Server;
  readonly #session: ServerHttp2Session;
  /** Read on the first stream that asks (the access log's), then kept: null until then. */
  #tlsVersion: string | undefined | null = null;

  constructor(server: H2Server, session: ServerHttp2Session) {
    this.#server = server;
    this.#session = session;
    this.remoteAddress = session.socket?.remoteAddress ?? '';
    this.idleSince = server.tick;
  }

  get maxBodyBytes(): number {
    return this.#server.limits.maxBodyBytes;
  }

  get secure(): boolean {
    return this.#server.secure;
  }

  get tlsVersion(): string | undefined {
    if (this.#tlsVersion === null) this.#tlsVersion = this.#server.secure ? tlsVersionOf(this.#session.socket) : undefined;
    return this.#tlsVersion;
  }

  streamClosed(): void {
    if (--this.open === 0) this.idleSince = this.#server.tick;
  }

  streamResetByClient(): void {
    const now = performance.now();
    if (now - this.windowStart > RESET_WINDOW_MS) {
      this.windowStart = now;
      this.resets = 0;
    }
    if (++this.resets === MAX_CLIENT_RESETS + 1) this.#server.flooded(this.#session, this.resets);
  }
}

/**
 * Baton's HTTP/2 side: node:http2's core API over the TLS connections whose ALPN chose `h2`
 * (it never listens itself). Each stream becomes an H2Downstream for the request path.
 * Limits: concurrent streams, header list size and pairs (advertised in SETTINGS and enforced
 * by nghttp2), request bodies (max_body), idle sessions, and the Rapid Reset guard above.
 */
export class H2Server {
  readonly limits: H2Limits;
  readonly secure: boolean;
  readonly #server: Http2Server;
  readonly #opts: H2ServerOptions;
  /** Not a Set: see linked-set.ts. */
  readonly #sessions = new LinkedSet<ServerHttp2Session>();
  closing = false;
  /** The idle sweep's count, and its timer while there are sessions. */
  tick = 0;
  #sweep: NodeJS.Timeout | undefined;

  constructor(opts: H2ServerOptions) {
    this.#opts = opts;
    this.limits = opts.limits;
    this.secure = opts.secure;
    this.#server = http2.createServer({
      settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: opts.limits.maxHeaderSize, enablePush: false },
      // Pseudo-header fields count as pairs too; the request path refuses past max_headers_count itself.
      maxHeaderListPairs: opts.limits.maxHeadersCount + 8,
      // Streams refused for going past the concurrency limit before node:http2 closes the session.
      maxSessionRejectedStreams: 100,
    });
    this.#server.on('session', this.#serverOnSession);
    this.#server.on('stream', this.#serverOnStream);
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  accept(socket: Socket): void {
    this.#server.emit('connection', socket);
  }

  /** Limits changed in place (a reload): new sessions advertise them; bodies and timeouts apply at once. */
  reconfigure(limits: H2Limits): void {
    Object.assign(this.limits, limits);
    if (this.#sweep === undefined) return;
    clearInterval(this.#sweep);
    this.#startSweep();
  }

  /** GOAWAY to every session: open streams finish, new ones go to a new connection. */
  closeIdle(): void {
    this.closing = true;
    for (const s of this.#sessions) if (!s.closed) s.close();
  }

  closeAll(): void {
    this.closing = true;
    for (const s of this.#sessions) s.destroy();
  }

  flooded(session: ServerHttp2Session, resets: number): void {
    this.#opts.log.warn({ remote: session.socket?.remoteAddress, resets, window_ms: RESET_WINDOW_MS }, 'http2 session closed: too many streams reset by the client');
    // Out of nghttp2's callback first (a GOAWAY submitted inside it is not written), then the
    // connection goes once the client had a moment to read it.
    setImmediate(() => {
      if (session.destroyed) return;
      session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
      setTimeout(() => session.destroy(), GOAWAY_GRACE_MS).unref();
    });
  }

  #serverOnSession = (session: ServerHttp2Session): void => {
    (session as unknown as Record<symbol, SessionState>)[kSession] = new SessionState(this, session);
    this.#sessions.add(session);
    session.on('error', ignore);
    if (this.#sweep === undefined) this.#startSweep();
    session.once('close', () => {
      this.#sessions.delete(session);
      if (this.#sessions.size === 0 && this.#sweep !== undefined) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
    });
    if (this.closing) session.close();
  };

  #startSweep(): void {
    const every = Math.max(1000, this.limits.keepAliveTimeoutMs) / IDLE_TICKS;
    this.#sweep = setInterval(() => this.#closeIdleSessions(), every).unref();
  }

  /** Idle (no stream open) for the keep-alive timeout: GOAWAY. A session with a stream open (an event stream) stays. */
  #closeIdleSessions(): void {
    const tick = ++this.tick;
    for (const session of this.#sessions) {
      const state = (session as unknown as Record<symbol, SessionState | undefined>)[kSession];
      if (!session.closed && state !== undefined && state.open === 0 && tick - state.idleSince > IDLE_TICKS) session.close();
    }
  }

  #serverOnStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: string[]): void => {
    const state = (stream.session as unknown as Record<symbol, SessionState | undefined>)[kSession];
    if (state === undefined || this.closing) {
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    const method = headers[':method'];
    const path = String(headers[':path'] ?? '');
    if (method === 'CONNECT' || !(path.startsWith('/') || (path === '*' && method === 'OPTIONS'))) {
      stream.on('error', ignore);
      stream.respond({ ':status': method === 'CONNECT' ? 405 : 400, 'content-type': 'text/plain' }, { endStream: true });
      return;
    }
    const req = new H2Downstream(stream, headers, flags, raw, state);
    state.open++;
    this.#opts.request(req);
  };
}

function ignore(): void {}
