import type { Socket } from 'node:net';
import { RequestHeadParser } from '../../http1/request-head.js';
import type { RequestHead } from '../../http1/types.js';
import { isHead, rawError } from '../raw-error.js';
import { BodyReader } from './body-reader.js';
import { H1Downstream, type H1Owner } from './downstream.js';
import { tlsVersionOf } from '../tls-version.js';
import type { H1Server } from './server.js';
import { expiry } from './timeouts.js';
import { listen, unlisten, type SocketEvents } from './socket-events.js';

/**
 * One client connection on Baton's own HTTP/1.1 path. It parses request heads with Baton's
 * strict parser, streams each request's body (Content-Length or chunked) to whoever reads it,
 * and keeps requests in order: the next head is parsed only once the answer in flight has
 * ended (pipelined requests wait in the buffer). What the parser declines goes, unread, to
 * node:http for the rest of the connection's life, so every refusal of malformed input stays
 * llhttp's; an upgrade request takes the socket away.
 */
export class H1Connection implements H1Owner, SocketEvents {
  readonly socket: Socket;
  readonly #server: H1Server;
  readonly #parser: RequestHeadParser;
  /** Bytes read and not yet used: a head in progress, a body, or requests sent ahead. */
  #buf: Buffer | undefined;
  /** The request whose answer is in flight. */
  #req: H1Downstream | undefined;
  /** The body being read (the current request's, or one answered early: discarded). */
  #body: BodyReader | undefined;
  #pumping = false;
  /** When the head now awaited began (connection start, or its first byte); 0: none awaited. */
  #headSince: number;
  /** When the request in flight began (its head's first byte). */
  #requestSince = 0;
  #idleSince = 0;
  /** Ending: FIN sent, what the client still sends is dropped until it closes (or LINGER_MS). */
  #closingSince = 0;
  #clientEnded = false;
  #gone = false;
  /** Read on the first request that asks (the access log's), then kept: null until then. */
  #tlsVersion: string | undefined | null = null;

  constructor(socket: Socket, server: H1Server) {
    this.socket = socket;
    this.#server = server;
    this.#parser = new RequestHeadParser(server.headLimits);
    this.#headSince = performance.now();
    listen(socket, this);
  }

  get secure(): boolean {
    return this.#server.secure;
  }
  get tlsVersion(): string | undefined {
    if (this.#tlsVersion === null) this.#tlsVersion = this.#server.secure ? tlsVersionOf(this.socket) : undefined;
    return this.#tlsVersion;
  }
  get keepAliveSeconds(): number {
    return this.#server.keepAliveSeconds;
  }
  get closing(): boolean {
    return this.#server.closing;
  }
  date(): string {
    return this.#server.date();
  }

  // --- reading ----------------------------------------------------------------------------------

  /** From the socket's listener: bytes from the client. */
  socketData(chunk: Buffer): void {
    if (this.#gone || this.#closingSince !== 0) return;
    this.#buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#gone && this.#closingSince === 0 && this.#buf !== undefined) {
        if (this.#body !== undefined) {
          if (!this.#feedBody()) return;
          continue;
        }
        if (this.#req !== undefined) {
          // Requests sent ahead wait for the answer in flight; past a head's worth, stop reading.
          if (this.#buf.length > this.#server.headLimits.maxHeadBytes) this.socket.pause();
          return;
        }
        if (!this.#parseHead()) return;
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Returns false when no more progress can be made now. */
  #parseHead(): boolean {
    const buf = this.#buf!;
    const result = this.#parser.parse(buf);
    switch (result.kind) {
      case 'incomplete':
        if (this.#headSince === 0) this.#headSince = performance.now();
        return false;
      case 'decline':
        this.#handOff();
        return false;
      case 'reject':
        // The answer to a HEAD request has no body, even a refusal (RFC 9110 9.3.2).
        this.#refuse(result.status, result.reason, isHead(buf));
        return false;
      case 'head':
        break;
    }
    const { head, size } = result;
    this.#buf = size < buf.length ? buf.subarray(size) : undefined;
    this.#parser.reset();
    if (head.upgrade === 'websocket' && head.method === 'GET') {
      this.#detach();
      this.#server.upgrade(head, this.socket, this.#buf ?? EMPTY);
      return false;
    }
    this.#begin(head);
    return true;
  }

  #begin(head: RequestHead): void {
    const req = new H1Downstream(head, this);
    this.#req = req;
    // One clock read for the request timeout (from its first byte, when it came in pieces) and the exchange's start.
    const now = performance.now();
    req.receivedAt = now;
    this.#requestSince = this.#headSince === 0 ? now : this.#headSince;
    this.#headSince = 0;
    if (head.body.kind !== 'none') this.#body = new BodyReader(req, head.body, this.#server.maxBody);
    this.#server.request(req);
  }

  /** Hand the request body bytes in #buf on. Returns false when it cannot go on now. */
  #feedBody(): boolean {
    const body = this.#body!;
    if (body.blocked) {
      // Nobody reads it yet (held at the gate, connecting) or the app is slow: stop reading.
      this.socket.pause();
      return false;
    }
    const buf = this.#buf!;
    const used = body.feed(buf);
    this.#buf = used < buf.length ? buf.subarray(used) : undefined;
    if (this.#body !== body) return false; // ended meanwhile (the connection closed)
    if (body.state === 'failed') {
      this.#bodyFailed(body);
      return false;
    }
    if (body.state === 'done') this.#bodyDone(body);
    return true;
  }

  #bodyDone(body: BodyReader): void {
    this.#body = undefined;
    if (!body.discarding) return body.req.sink!.onBodyEnd(body.trailers);
    if (this.#req === undefined) this.#next();
  }

  /** The body cannot be read on: the connection cannot find the next request's start either. */
  #bodyFailed(body: BodyReader): void {
    this.#body = undefined;
    this.#buf = undefined;
    const req = body.req;
    req.keepAlive = false;
    if (body.discarding || req.ended) return this.#end();
    req.sink?.onBodyError(body.failure!);
  }

  /** From the request: its reader wants (more of) the body. */
  bodyRequested(req: H1Downstream): void {
    const body = this.#body;
    if (body === undefined || body.req !== req) return;
    body.paused = false;
    if (this.socket.isPaused()) this.socket.resume();
    this.#pump();
  }

  // --- answering --------------------------------------------------------------------------------

  /** From the request: its answer ended. The next request may be read. */
  responseEnded(req: H1Downstream): void {
    if (req !== this.#req) return;
    this.#req = undefined;
    if (!req.keepAlive || this.#clientEnded) return this.#end();
    const body = this.#body;
    if (body !== undefined && body.req === req) {
      // Answered before its body was read (an early 413, a 404): read the rest and drop it.
      if (body.tooLongToDiscard) return this.#end();
      body.discarding = true;
      if (this.socket.isPaused()) this.socket.resume();
      this.#pump();
      return;
    }
    this.#next();
  }

  #next(): void {
    const now = performance.now();
    this.#idleSince = now;
    this.#headSince = this.#buf === undefined ? 0 : now;
    if (this.socket.isPaused()) this.socket.resume();
    this.#pump();
  }

  socketDrained(): void {
    this.#req?.events.downstreamDrained();
  }

  // --- ending -----------------------------------------------------------------------------------

  socketEnded(): void {
    // The client will send nothing more: as node:http does (without httpAllowHalfOpen), that
    // ends the exchange in flight (a held request leaves its queue) and the connection.
    this.#clientEnded = true;
    const req = this.#req;
    this.#req = undefined;
    this.#body = undefined;
    req?.connectionClosed();
    this.#end();
  }

  socketClosed(): void {
    this.#gone = true;
    this.#server.forget(this);
    const req = this.#req;
    this.#req = undefined;
    this.#body = undefined;
    this.#buf = undefined;
    req?.connectionClosed();
    // Nothing of this connection stays reachable from its socket (see linked-set.ts on what a dead object keeps alive).
    unlisten(this.socket);
  }

  /** No more requests on this connection: end it once written, dropping what the client still sends. */
  #end(): void {
    if (this.#gone || this.#closingSince !== 0) return;
    this.#closingSince = performance.now();
    this.#buf = undefined;
    this.socket.end();
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** Timeouts, checked every few hundred milliseconds by the server (one timer for all). */
  check(now: number): void {
    if (this.#gone) return;
    const body = this.#body;
    switch (expiry(now, this.#server, this.#closingSince, this.#headSince, this.#idleSince, this.#requestSince, this.#req === undefined && body === undefined, this.#buf !== undefined, body !== undefined)) {
      case 'destroy':
        return void this.socket.destroy();
      case 'end':
        return this.#end();
      case 'head_timeout':
        return this.#refuse(408, 'ERR_HTTP_REQUEST_TIMEOUT', false);
      case 'body_timeout':
        if (body!.req.responded) return void this.socket.destroy();
        this.#refuse(408, 'ERR_HTTP_REQUEST_TIMEOUT', false);
        body!.req.connectionClosed();
    }
  }

  /** Bytes refused before they were a request (the parser's rejection, a 408): answered, and the connection ends. */
  #refuse(status: number, reason: string, head: boolean): void {
    this.#gone = true;
    this.#server.forget(this);
    rawError(this.socket, status, reason, head);
    this.#server.rejected(this.socket, status);
  }

  /** Idle (between requests): closed now. Busy ones end after their answer. */
  closeIfIdle(): void {
    if (this.#req === undefined && this.#body === undefined) this.socket.destroy();
  }

  /** node:http takes the connection from the current request on (still in #buf, unread). */
  #handOff(): void {
    this.#detach();
    const buf = this.#buf;
    this.#buf = undefined;
    if (buf !== undefined) this.socket.unshift(buf);
    this.#server.handOff(this.socket);
    if (this.socket.isPaused()) this.socket.resume();
  }

  #detach(): void {
    this.#gone = true;
    this.#server.forget(this);
    unlisten(this.socket, true);
  }
}

const EMPTY = Buffer.alloc(0);
