import net from 'node:net';
import { writeBodyChunk } from '../http1/body-write.js';
import { lastChunk, requestHead } from '../http1/head-writer.js';
import type { HeadLimits } from '../http1/types.js';
import type { ConnectionPool, PooledConnection } from './pool.js';
import type { ReadBuffers } from './read-buffers.js';
import { EMPTY, ResponseReader } from './response-reader.js';
import type { Quarantine, Quarantined } from './quarantine.js';
import { TransportError, type OutgoingRequest, type RequestController, type ResponseHandler, type TransportErrorKind } from './transport.js';

/** What a connection shares with the others of its transport. */
export interface ConnectionContext {
  readonly buffers: ReadBuffers;
  readonly limits: HeadLimits;
  readonly quarantine: Quarantine;
}

/**
 * One keep-alive HTTP/1.1 connection to an upstream, carrying one request at a time: it writes
 * the request (framed as Baton read it from the client, never as a header says), reads the
 * answer with Baton's strict parsers (its reading half: response-reader.ts), and hands each
 * event to the request's handler. Its socket listeners are installed once for the connection's
 * life; the handler changes per request.
 */
export class UpstreamConnection extends ResponseReader implements PooledConnection, RequestController, Quarantined {
  readonly socket: net.Socket;
  idleSince = 0;
  readonly #pool: ConnectionPool<UpstreamConnection>;
  /** Requests carried to completion; > 0 means the next one rides a reused connection. */
  #uses = 0;
  #sent = false;
  #bodyDone = false;
  /** The head of a request with a body, held until its first bytes so both go in one write. */
  #headHeld: string | undefined;

  constructor(ctx: ConnectionContext, pool: ConnectionPool<UpstreamConnection>, host: string, port: number) {
    super(ctx);
    this.#pool = pool;
    this.socket = net.connect({ host, port, noDelay: true, onread: { buffer: this.nextBuffer, callback: this.socketOnRead } });
    this.socket.on('connect', this.#socketOnConnect);
    this.socket.on('drain', this.#socketOnDrain);
    this.socket.on('end', this.#socketOnEnd);
    this.socket.on('error', this.#socketOnError);
    this.socket.on('close', this.#socketOnClose);
  }

  get gone(): boolean {
    return this.state === 'gone';
  }

  /** Carry `request`; `handler` hears everything until the answer ends or fails. */
  begin(request: OutgoingRequest, handler: ResponseHandler): void {
    this.request = request;
    this.handler = handler;
    this.#sent = false;
    this.#bodyDone = request.body.kind === 'none';
    if (this.state === 'connecting') return; // #socketOnConnect goes on
    this.#start();
  }

  #start(): void {
    const request = this.request!;
    this.state = 'awaiting';
    const head = requestHead(request.method, request.path, request.outgoingHeaders, request.body);
    if (request.body.kind === 'none') {
      this.#sent = true;
      this.socket.write(head, 'latin1');
    } else this.#headHeld = head;
    this.handler!.onRequestStart(this);
  }

  // --- RequestController -------------------------------------------------------------------

  writeBody(chunk: Buffer): boolean {
    if (this.handler === undefined || this.#bodyDone || chunk.length === 0) return true;
    const socket = this.socket;
    const head = this.#headHeld;
    this.#headHeld = undefined;
    this.#sent = true;
    return writeBodyChunk(socket, head, chunk, this.request!.body.kind === 'chunked');
  }

  endBody(trailers: readonly string[]): void {
    if (this.handler === undefined || this.#bodyDone) return;
    this.#bodyDone = true;
    const head = this.#headHeld ?? '';
    this.#headHeld = undefined;
    this.#sent = true;
    if (this.request!.body.kind === 'chunked') this.socket.write(head + lastChunk(trailers), 'latin1');
    else if (head !== '') this.socket.write(head, 'latin1');
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  abort(): void {
    this.handler = undefined;
    this.destroy();
  }

  /** Close it for good, telling nobody (whoever used it asked for it, or it was idle). */
  destroy(): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.handler = undefined;
    this.dropOwn();
    this.socket.destroy();
    this.#pool.forget(this);
  }

  // --- the socket ----------------------------------------------------------------------------

  #socketOnConnect = (): void => {
    if (this.state !== 'connecting') return;
    if (this.handler === undefined) {
      this.state = 'idle';
      return;
    }
    this.#start();
  };

  #socketOnDrain = (): void => {
    if (this.state === 'awaiting' || this.state === 'streaming') this.handler?.onRequestDrain();
  };

  #socketOnEnd = (): void => {
    // A close-delimited body ends here; anything else was cut short.
    if (this.closeDelimited) return this.complete(EMPTY, false);
    this.fail('reset', 'the app closed the connection', undefined);
  };

  #socketOnError = (err: NodeJS.ErrnoException): void => {
    this.fail(err.code === 'ECONNREFUSED' ? 'refused' : 'reset', err.message, err);
  };

  #socketOnClose = (): void => {
    this.fail('reset', 'the connection to the app closed', undefined);
  };

  // --- the end of an answer --------------------------------------------------------------------

  protected complete(trailers: readonly string[], extra: boolean): void {
    const handler = this.handler!;
    this.handler = undefined;
    this.#uses++;
    this.answerEnded(handler);
    if (this.keepAlive && !extra) this.state = 'idle';
    else this.destroy();
    handler.onResponseEnd(trailers);
    if (this.state !== 'idle') return;
    if (this.#bodyDone) this.#release();
    // An answer that came before the whole request body went up: the rest is not waited for.
    else this.destroy();
  }

  /**
   * Back to the pool, after a quarantine: an app may write more than its answer (a body to HEAD,
   * a second response nobody asked for), and such bytes must never become the next request's
   * answer (issue 17). One more turn of reads passes first; bytes that arrive meanwhile, or on
   * the idle connection later, discard it. Bytes that arrive later still, once it carries the
   * next request, cannot be told from its answer: the limit every HTTP/1.1 pool shares.
   */
  #release(): void {
    this.request = undefined;
    this.resume();
    this.ctx.quarantine.add(this);
  }

  /** From the quarantine: it is over, at `now`. */
  releaseNow(now: number): void {
    if (this.state === 'idle' && this.handler === undefined) this.#pool.give(this, now);
  }

  protected fail(kind: TransportErrorKind, message: string, cause: unknown): void {
    const handler = this.handler;
    const streaming = this.state === 'streaming';
    const reused = this.#uses > 0;
    this.destroy();
    if (handler === undefined) return;
    const error = new TransportError(streaming && kind !== 'bad_response' ? 'aborted_response' : kind, message, { requestSent: this.#sent, reused, cause });
    handler.onResponseError(error);
  }
}
