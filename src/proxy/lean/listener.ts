import type http from 'node:http';
import type { Socket } from 'node:net';
import { parseLeanHead } from './head.js';
import { LeanRequest } from './request.js';
import { LeanResponse, type ResponseOwner } from './response.js';
import { rawError } from '../own-routes.js';

export interface LeanLimits {
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderSize: number;
  maxHeadersCount: number;
}

export interface LeanListenerOptions {
  limits: LeanLimits;
  /** How often timeouts are checked (one timer for all connections). */
  checkIntervalMs: number;
  /**
   * Serve one lean request. Returns false, having written nothing, when it is not for the lean
   * path after all: the connection then goes to node:http with the request unread.
   */
  serve(req: LeanRequest, res: LeanResponse): boolean;
  /** node:http's own handling of a connection, from the current request on (see inFrontOf). */
  handOff(socket: Socket): void;
}

/**
 * The fast path of the public listener. Every new connection starts here; requests in the lean
 * subset (see head.ts: plain bodiless HTTP/1.1, the bulk of what browsers and API clients send)
 * are parsed and answered without node:http's IncomingMessage/ServerResponse machinery. The
 * first request outside it hands the connection, that request unread, to node:http for the rest
 * of its life: bodies, upgrades, HTTP/1.0, anything malformed or odd get node:http's parser and
 * its answers (400, 431, 408...). So this path never has to refuse anything itself, only time out
 * idle and slow connections the way node:http would.
 */
export class LeanListener {
  readonly #opts: LeanListenerOptions;
  readonly #conns = new Set<LeanConnection>();
  #timer: NodeJS.Timeout | undefined;
  /** Stopping: connections end after their response in flight, idle ones now. */
  closing = false;

  constructor(opts: LeanListenerOptions) {
    this.#opts = opts;
  }

  /**
   * Put the lean path in front of a node:http server: new connections start here, and
   * node:http's own connection listener (the one its constructor installs) takes those handed
   * over. Undefined when that listener is not the only one (nothing is changed then).
   */
  static inFrontOf(server: http.Server, opts: Omit<LeanListenerOptions, 'handOff'>): LeanListener | undefined {
    const [nodeListener, ...others] = server.listeners('connection') as Array<(socket: Socket) => void>;
    if (nodeListener === undefined || others.length > 0) return undefined;
    const lean = new LeanListener({ ...opts, handOff: (socket) => nodeListener.call(server, socket) });
    server.removeListener('connection', nodeListener);
    server.on('connection', (socket: Socket) => lean.adopt(socket));
    return lean;
  }

  get opts(): LeanListenerOptions {
    return this.#opts;
  }

  adopt(socket: Socket): void {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#check(), this.#opts.checkIntervalMs);
      this.#timer.unref();
    }
    this.#conns.add(new LeanConnection(socket, this));
  }

  forget(conn: LeanConnection): void {
    this.#conns.delete(conn);
  }

  /** Close idle connections; busy ones close after their response. */
  closeIdle(): void {
    this.closing = true;
    for (const conn of this.#conns) conn.closeIfIdle();
  }

  closeAll(): void {
    this.closing = true;
    for (const conn of this.#conns) conn.socket.destroy();
    this.#stopTimer();
  }

  #check(): void {
    if (this.#conns.size === 0 && this.closing) return this.#stopTimer();
    const now = performance.now();
    for (const conn of this.#conns) conn.check(now);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

class LeanConnection implements ResponseOwner {
  readonly socket: Socket;
  readonly keepAliveSeconds: number;
  readonly #listener: LeanListener;
  readonly #opts: LeanListenerOptions;
  /** Bytes read and not yet used: a head in progress, or requests sent ahead (pipelining). */
  #buf: Buffer | undefined;
  /** The response in progress; requests behind it wait in #buf. */
  #res: LeanResponse | undefined;
  #parsing = false;
  /** When the head now awaited began (connection start, or its first byte); 0: none awaited yet. */
  #headSince: number;
  /** When the last response ended (keep-alive idle time). */
  #idleSince = 0;
  #gone = false;

  constructor(socket: Socket, listener: LeanListener) {
    this.socket = socket;
    this.#listener = listener;
    this.#opts = listener.opts;
    this.keepAliveSeconds = Math.floor(this.#opts.limits.keepAliveTimeoutMs / 1000);
    this.#headSince = performance.now();
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('drain', this.#onDrain);
    socket.on('error', ignore);
    socket.on('close', this.#onClose);
  }

  #onData = (chunk: Buffer): void => {
    // Ending (Connection: close, or timed out): whatever else the client sends is not read.
    if (this.#gone) return;
    this.#buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#res !== undefined) {
      // Requests sent ahead wait for the response in flight; past a head's worth, stop reading.
      if (this.#buf.length > this.#opts.limits.maxHeaderSize) this.socket.pause();
      return;
    }
    if (this.#headSince === 0) this.#headSince = performance.now();
    this.#parse();
  };

  #parse(): void {
    if (this.#parsing) return;
    this.#parsing = true;
    try {
      const { limits } = this.#opts;
      while (this.#res === undefined && this.#buf !== undefined && !this.#gone) {
        const buf = this.#buf;
        const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
        if (end === -1) {
          if (buf.length > limits.maxHeaderSize) this.#handOff();
          return;
        }
        if (end + 4 > limits.maxHeaderSize) return this.#handOff();
        const head = parseLeanHead(buf.toString('latin1', 0, end), limits);
        if (head === undefined) return this.#handOff();
        const req = new LeanRequest(head, this.socket);
        const res = new LeanResponse(req, this, head.keepAlive && !this.#listener.closing);
        this.#buf = end + 4 < buf.length ? buf.subarray(end + 4) : undefined;
        this.#res = res;
        if (!this.#opts.serve(req, res)) {
          this.#res = undefined;
          this.#buf = buf;
          return this.#handOff();
        }
      }
    } finally {
      this.#parsing = false;
    }
  }

  responseDone(res: LeanResponse): void {
    if (res !== this.#res) return;
    this.#res = undefined;
    if (!res.shouldKeepAlive || this.#listener.closing) return this.#end();
    const now = performance.now();
    this.#idleSince = now;
    this.#headSince = this.#buf === undefined ? 0 : now;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buf !== undefined) this.#parse();
  }

  /** Timeouts, checked every few hundred milliseconds (node:http's own connections check). */
  check(now: number): void {
    if (this.#res !== undefined || this.#gone) return;
    const { limits } = this.#opts;
    if (this.#headSince !== 0) {
      if (now - this.#headSince <= limits.headersTimeoutMs) return;
      // Slow or silent client: a partial head is answered 408, a silent one just closed.
      if (this.#buf !== undefined) {
        this.#gone = true;
        rawError(this.socket, 408, 'ERR_HTTP_REQUEST_TIMEOUT');
      } else this.socket.destroy();
      return;
    }
    if (limits.keepAliveTimeoutMs > 0 && now - this.#idleSince > limits.keepAliveTimeoutMs) this.socket.destroy();
  }

  closeIfIdle(): void {
    if (this.#res === undefined && this.#buf === undefined) this.socket.destroy();
  }

  #onEnd = (): void => {
    // The client stopped sending: as node:http does (without httpAllowHalfOpen), that ends the
    // exchange; the response in flight, if any, gets 'close' once the socket is closed.
    this.#end();
  };

  #onDrain = (): void => {
    this.#res?.emit('drain');
  };

  #onClose = (): void => {
    this.#gone = true;
    this.#listener.forget(this);
    this.#res?.connectionClosed();
    this.#res = undefined;
  };

  #end(): void {
    this.#gone = true;
    this.#listener.forget(this);
    this.socket.destroySoon();
  }

  /** node:http takes the connection from the current request on (it is still in #buf, unread). */
  #handOff(): void {
    this.#gone = true;
    this.#listener.forget(this);
    const { socket } = this;
    socket.removeListener('data', this.#onData);
    socket.removeListener('end', this.#onEnd);
    socket.removeListener('drain', this.#onDrain);
    socket.removeListener('error', ignore);
    socket.removeListener('close', this.#onClose);
    const buf = this.#buf;
    this.#buf = undefined;
    if (buf !== undefined) socket.unshift(buf);
    this.#opts.handOff(socket);
    if (socket.isPaused()) socket.resume();
  }
}

function ignore(): void {}
