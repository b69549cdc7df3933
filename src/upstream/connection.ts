import net from 'node:net';
import { parseResponseHead } from '../http1/response-head.js';
import { ChunkedDecoder } from '../http1/chunked.js';
import { chunkPrefix, lastChunk, requestHead } from '../http1/head-writer.js';
import type { BodyFraming, HeadLimits } from '../http1/types.js';
import type { ConnectionPool, PooledConnection } from './pool.js';
import { LARGE_READ, type ReadBuffers } from './read-buffers.js';
import type { Quarantine, Quarantined } from './quarantine.js';
import { TransportError, type OutgoingRequest, type RequestController, type ResponseHandler, type TransportErrorKind } from './transport.js';

/** What a connection shares with the others of its transport. */
export interface ConnectionContext {
  readonly buffers: ReadBuffers;
  readonly limits: HeadLimits;
  readonly quarantine: Quarantine;
}

type State =
  /** Dialling; the request waits for the connection. */
  | 'connecting'
  /** The request head is written or held for its first body bytes; no answer yet. */
  | 'awaiting'
  /** The response head went to the handler; its body is streaming. */
  | 'streaming'
  /** In the pool, or between two requests. */
  | 'idle'
  | 'gone';

const EMPTY: readonly string[] = [];

/**
 * One keep-alive HTTP/1.1 connection to an upstream, carrying one request at a time: it writes
 * the request (framed as Baton read it from the client, never as a header says), reads the
 * answer with Baton's strict parsers, and hands each event to the request's handler. Its socket
 * listeners are installed once for the connection's life; the handler changes per request.
 *
 * Reads go into the transport's shared buffer with `onread` (no stream machinery per read): a
 * chunk is valid only during the handler call it is passed to.
 */
export class UpstreamConnection implements PooledConnection, RequestController, Quarantined {
  readonly socket: net.Socket;
  idleSince = 0;
  readonly #ctx: ConnectionContext;
  readonly #pool: ConnectionPool<UpstreamConnection>;
  #state: State = 'connecting';
  #handler: ResponseHandler | undefined;
  #request: OutgoingRequest | undefined;
  /** Requests carried to completion; > 0 means the next one rides a reused connection. */
  #uses = 0;
  #sent = false;
  #bodyDone = false;
  /** The head of a request with a body, held until its first bytes so both go in one write. */
  #headHeld: string | undefined;
  // The response being read.
  #pending: Buffer | undefined;
  #framing: BodyFraming | undefined;
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined;
  #keepAlive = false;
  #paused = false;
  /** The next read goes to a buffer of its own (a large body is streaming). */
  #large = false;
  /** That buffer of its own (from ReadBuffers.take), read into again while the handler holds none of its bytes. */
  #own: Buffer | undefined;

  constructor(ctx: ConnectionContext, pool: ConnectionPool<UpstreamConnection>, host: string, port: number) {
    this.#ctx = ctx;
    this.#pool = pool;
    this.socket = net.connect({ host, port, noDelay: true, onread: { buffer: this.#nextBuffer, callback: this.#socketOnRead } });
    this.socket.on('connect', this.#socketOnConnect);
    this.socket.on('drain', this.#socketOnDrain);
    this.socket.on('end', this.#socketOnEnd);
    this.socket.on('error', this.#socketOnError);
    this.socket.on('close', this.#socketOnClose);
  }

  get gone(): boolean {
    return this.#state === 'gone';
  }

  /** Carry `request`; `handler` hears everything until the answer ends or fails. */
  begin(request: OutgoingRequest, handler: ResponseHandler): void {
    this.#request = request;
    this.#handler = handler;
    this.#sent = false;
    this.#bodyDone = request.body.kind === 'none';
    if (this.#state === 'connecting') return; // #socketOnConnect goes on
    this.#start();
  }

  #start(): void {
    const request = this.#request!;
    this.#state = 'awaiting';
    const head = requestHead(request.method, request.path, request.outgoingHeaders, request.body);
    if (request.body.kind === 'none') {
      this.#sent = true;
      this.socket.write(head, 'latin1');
    } else this.#headHeld = head;
    this.#handler!.onRequestStart(this);
  }

  // --- RequestController -------------------------------------------------------------------

  writeBody(chunk: Buffer): boolean {
    if (this.#handler === undefined || this.#bodyDone || chunk.length === 0) return true;
    const socket = this.socket;
    const head = this.#headHeld;
    this.#headHeld = undefined;
    this.#sent = true;
    if (this.#request!.body.kind === 'chunked') {
      socket.cork();
      socket.write(head === undefined ? chunkPrefix(chunk.length) : head + chunkPrefix(chunk.length), 'latin1');
      socket.write(chunk);
      const ok = socket.write('\r\n', 'latin1');
      socket.uncork();
      return ok;
    }
    if (head === undefined) return socket.write(chunk);
    socket.cork();
    socket.write(head, 'latin1');
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  endBody(trailers: readonly string[]): void {
    if (this.#handler === undefined || this.#bodyDone) return;
    this.#bodyDone = true;
    const head = this.#headHeld ?? '';
    this.#headHeld = undefined;
    this.#sent = true;
    if (this.#request!.body.kind === 'chunked') this.socket.write(head + lastChunk(trailers), 'latin1');
    else if (head !== '') this.socket.write(head, 'latin1');
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.socket.resume();
  }

  abort(): void {
    this.#handler = undefined;
    this.destroy();
  }

  /** Close it for good, telling nobody (whoever used it asked for it, or it was idle). */
  destroy(): void {
    if (this.#state === 'gone') return;
    this.#state = 'gone';
    this.#handler = undefined;
    // The handler may still hold bytes of it: never given back from here.
    this.#own = undefined;
    this.socket.destroy();
    this.#pool.forget(this);
  }

  // --- the socket ----------------------------------------------------------------------------

  #socketOnConnect = (): void => {
    if (this.#state !== 'connecting') return;
    if (this.#handler === undefined) {
      this.#state = 'idle';
      return;
    }
    this.#start();
  };

  #socketOnDrain = (): void => {
    if (this.#state === 'awaiting' || this.#state === 'streaming') this.#handler?.onRequestDrain();
  };

  /** For `onread`: where the next read goes (called after each read, for the one after it). */
  #nextBuffer = (): Buffer => {
    if (!this.#large) return this.#ctx.buffers.shared;
    return this.#ownBuffer();
  };

  /**
   * The connection's own buffer, free to be written: the same one while the handler holds none
   * of its bytes (a client that keeps up), else another, the last one left to the handler. The
   * first of an answer comes from the spares; after one the handler kept, a fresh one of the
   * shared size, as the handler will likely keep that too (a slow client, a TLS socket).
   */
  #ownBuffer(): Buffer {
    const own = this.#own;
    if (own !== undefined && this.#handler?.released() === true) return own;
    this.#own = own === undefined ? this.#ctx.buffers.take() : this.#ctx.buffers.fresh();
    return this.#own;
  }

  #socketOnRead = (n: number, buffer: Buffer): boolean => {
    if (this.#handler === undefined || this.#state === 'idle') {
      // Bytes nobody asked for (after an answer ended, or on an idle connection): the
      // connection is out of step and would poison the next request sent on it (issue 17).
      this.destroy();
      return false;
    }
    const chunk = buffer.subarray(0, n);
    if (this.#state === 'streaming') this.#body(chunk, 0);
    else this.#head(chunk);
    this.#large = this.#state === 'streaming' && n >= LARGE_READ;
    return true;
  };

  #socketOnEnd = (): void => {
    // A close-delimited body ends here; anything else was cut short.
    if (this.#state === 'streaming' && this.#framing?.kind === 'close') return this.#complete(EMPTY, false);
    this.#fail('reset', 'the app closed the connection', undefined);
  };

  #socketOnError = (err: NodeJS.ErrnoException): void => {
    this.#fail(err.code === 'ECONNREFUSED' ? 'refused' : 'reset', err.message, err);
  };

  #socketOnClose = (): void => {
    this.#fail('reset', 'the connection to the app closed', undefined);
  };

  // --- the answer ----------------------------------------------------------------------------

  #head(chunk: Buffer): void {
    const buf = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    const result = parseResponseHead(buf, this.#request!.method, this.#ctx.limits);
    if (result.kind === 'incomplete') {
      // A lone chunk lies in the shared read buffer: keep a copy (concat made one already).
      this.#pending = this.#pending === undefined ? Buffer.from(buf) : buf;
      return;
    }
    this.#pending = undefined;
    if (result.kind === 'invalid') return this.#fail('bad_response', result.reason, undefined);
    const { head, size } = result;
    if (head.status < 200) {
      if (head.status === 101) return this.#fail('bad_response', '101 Switching Protocols to a request that asked for no upgrade', undefined);
      // 100 Continue, 103 Early Hints: informational, the real answer follows.
      if (size < buf.length) this.#head(buf.subarray(size));
      return;
    }
    this.#state = 'streaming';
    this.#framing = head.body;
    this.#keepAlive = head.keepAlive;
    this.#handler!.onResponseStart(head);
    if (this.#handler === undefined) return; // the handler aborted
    switch (head.body.kind) {
      case 'none':
        return this.#complete(EMPTY, size < buf.length);
      case 'length':
        // Content-Length: 0 ends the answer with its head (an empty echo, say).
        if (head.body.length === 0) return this.#complete(EMPTY, size < buf.length);
        this.#remaining = head.body.length;
        break;
      case 'chunked':
        this.#decoder = new ChunkedDecoder();
        break;
      case 'close':
        this.#keepAlive = false;
        break;
    }
    if (size < buf.length) this.#body(buf, size);
  }

  #body(buf: Buffer, start: number): void {
    const framing = this.#framing!;
    if (framing.kind === 'length') {
      const avail = buf.length - start;
      const take = Math.min(avail, this.#remaining);
      this.#remaining -= take;
      if (take > 0) this.#data(start === 0 && take === buf.length ? buf : buf.subarray(start, start + take));
      if (this.#remaining === 0 && this.#handler !== undefined) this.#complete(EMPTY, avail > take);
      return;
    }
    if (framing.kind === 'chunked') {
      let end: number;
      try {
        end = this.#decoder!.feed(buf, start, decoderOnData, this);
      } catch (err) {
        return this.#fail('aborted_response', `malformed chunked body: ${(err as Error).message}`, err);
      }
      if (end !== -1 && this.#handler !== undefined) this.#complete(this.#decoder!.trailers, end < buf.length);
      return;
    }
    // close-delimited
    this.#data(start === 0 ? buf : buf.subarray(start));
  }

  /** Response body bytes for the handler (from the chunked decoder). */
  data(data: Buffer): void {
    this.#data(data);
  }

  /** `data` is a view of the last read: the handler gets it as a buffer of its own. */
  #data(data: Buffer): void {
    const handler = this.#handler;
    if (handler === undefined || data.length === 0) return;
    if (!handler.onResponseData(this.#keep(data)) && !this.#paused && this.#handler !== undefined) {
      // The client is slower than the app: stop reading until the handler resumes us.
      this.#paused = true;
      this.socket.pause();
    }
  }

  /**
   * `view` as a buffer the handler may keep. Out of the shared buffer it is copied: a large one
   * into the connection's own buffer (the body after a head, in the read that brought the head),
   * so that a large answer allocates nothing.
   */
  #keep(view: Buffer): Buffer {
    const buffers = this.#ctx.buffers;
    if (view.length < LARGE_READ || view.buffer !== buffers.shared.buffer) return buffers.keep(view);
    const own = this.#ownBuffer();
    view.copy(own);
    return own.subarray(0, view.length);
  }

  /**
   * The answer is complete. `extra`: bytes followed it in the same read (out of step: the
   * connection is not reused).
   */
  #complete(trailers: readonly string[], extra: boolean): void {
    const handler = this.#handler!;
    this.#handler = undefined;
    this.#decoder = undefined;
    this.#uses++;
    this.#giveBackOwn(handler);
    if (this.#keepAlive && !extra) this.#state = 'idle';
    else this.destroy();
    handler.onResponseEnd(trailers);
    if (this.#state !== 'idle') return;
    if (this.#bodyDone) this.#release();
    // An answer that came before the whole request body went up: the rest is not waited for.
    else this.destroy();
  }

  /**
   * The answer is over: the buffer of its own goes back for another large body, unless the
   * handler still holds bytes of it. Called during a read (or after the last one): the read
   * after it goes to the shared buffer, since `#large` is false from here.
   */
  #giveBackOwn(handler: ResponseHandler): void {
    const own = this.#own;
    this.#own = undefined;
    this.#large = false;
    if (own !== undefined && handler.released()) this.#ctx.buffers.give(own);
  }

  /**
   * Back to the pool, after a quarantine: an app may write more than its answer (a body to HEAD,
   * a second response nobody asked for), and such bytes must never become the next request's
   * answer (issue 17). One more turn of reads passes first; bytes that arrive meanwhile, or on
   * the idle connection later, discard it. Bytes that arrive later still, once it carries the
   * next request, cannot be told from its answer: the limit every HTTP/1.1 pool shares.
   */
  #release(): void {
    this.#request = undefined;
    this.resume();
    this.#ctx.quarantine.add(this);
  }

  /** From the quarantine: it is over. */
  releaseNow(): void {
    if (this.#state === 'idle' && this.#handler === undefined) this.#pool.give(this);
  }

  #fail(kind: TransportErrorKind, message: string, cause: unknown): void {
    const handler = this.#handler;
    const streaming = this.#state === 'streaming';
    const reused = this.#uses > 0;
    this.destroy();
    if (handler === undefined) return;
    const error = new TransportError(streaming && kind !== 'bad_response' ? 'aborted_response' : kind, message, { requestSent: this.#sent, reused, cause });
    handler.onResponseError(error);
  }
}

function decoderOnData(conn: UpstreamConnection, data: Buffer): void {
  conn.data(data);
}
