import type net from 'node:net';
import { ResponseHeadParser } from '../http1/response-head.js';
import { ChunkedDecoder } from '../http1/chunked.js';
import type { BodyFraming } from '../http1/types.js';
import { LARGE_READ } from './read-buffers.js';
import type { ConnectionContext } from './connection.js';
import type { OutgoingRequest, ResponseHandler, TransportErrorKind } from './transport.js';

export type State =
  /** Dialling; the request waits for the connection. */
  | 'connecting'
  /** The request head is written or held for its first body bytes; no answer yet. */
  | 'awaiting'
  /** The response head went to the handler; its body is streaming. */
  | 'streaming'
  /** In the pool, or between two requests. */
  | 'idle'
  | 'gone';

export const EMPTY: readonly string[] = [];

/**
 * The reading half of an upstream connection (connection.ts is the rest): the answer to the
 * request in flight, read with Baton's strict parsers (the head, then the body as its framing
 * says) and handed to the handler with backpressure. A half, not an object of its own, so that
 * a connection stays one object (nothing more allocated per connection or per request).
 *
 * Reads go into the transport's shared buffer with `onread` (no stream machinery per read): a
 * chunk is valid only during the handler call it is passed to.
 */
export abstract class ResponseReader {
  abstract readonly socket: net.Socket;
  protected readonly ctx: ConnectionContext;
  protected state: State = 'connecting';
  protected handler: ResponseHandler | undefined;
  protected request: OutgoingRequest | undefined;
  protected keepAlive = false;
  protected paused = false;
  // The response being read.
  #pending: Buffer | undefined;
  #framing: BodyFraming | undefined;
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined;
  /** The next read goes to a buffer of its own (a large body is streaming). */
  #large = false;
  /** That buffer of its own (from ReadBuffers.take), read into again while the handler holds none of its bytes. */
  #own: Buffer | undefined;

  /** One per connection, reused for every answer (a fresh one per answer was garbage per request). */
  readonly #parser: ResponseHeadParser;

  constructor(ctx: ConnectionContext) {
    this.ctx = ctx;
    this.#parser = new ResponseHeadParser(ctx.limits);
  }

  /**
   * The answer is complete. `extra`: bytes followed it in the same read (out of step: the
   * connection is not reused).
   */
  protected abstract complete(trailers: readonly string[], extra: boolean): void;

  protected abstract fail(kind: TransportErrorKind, message: string, cause: unknown): void;

  /** Close it for good, telling nobody. */
  abstract destroy(): void;

  /** For `onread`: where the next read goes (called after each read, for the one after it). */
  protected readonly nextBuffer = (): Buffer => {
    if (!this.#large) return this.ctx.buffers.shared;
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
    if (own !== undefined && this.handler?.released() === true) return own;
    this.#own = own === undefined ? this.ctx.buffers.take() : this.ctx.buffers.fresh();
    return this.#own;
  }

  /** For `onread`: `n` bytes were read into `buffer`. */
  protected readonly socketOnRead = (n: number, buffer: Buffer): boolean => {
    if (this.handler === undefined || this.state === 'idle') {
      // Bytes nobody asked for (after an answer ended, or on an idle connection): the
      // connection is out of step and would poison the next request sent on it (issue 17).
      this.destroy();
      return false;
    }
    const chunk = buffer.subarray(0, n);
    if (this.state === 'streaming') this.#body(chunk, 0);
    else this.#head(chunk);
    this.#large = this.state === 'streaming' && n >= LARGE_READ;
    return true;
  };

  /** Whether the end of the connection ends the answer (a close-delimited body). */
  protected get closeDelimited(): boolean {
    return this.state === 'streaming' && this.#framing?.kind === 'close';
  }

  #head(chunk: Buffer): void {
    let buf: Buffer;
    if (this.#pending === undefined) {
      // A new head: whatever an abandoned one left in the parser is forgotten.
      buf = chunk;
      this.#parser.reset();
    } else buf = Buffer.concat([this.#pending, chunk]);
    // The parser resumes where it stopped: `buf` holds the head from its first byte.
    const result = this.#parser.parse(buf, this.request!.method);
    if (result.kind === 'incomplete') {
      // A lone chunk lies in the shared read buffer: keep a copy (concat made one already).
      this.#pending = this.#pending === undefined ? Buffer.from(buf) : buf;
      return;
    }
    this.#pending = undefined;
    if (result.kind === 'invalid') return this.fail('bad_response', result.reason, undefined);
    const { head, size } = result;
    if (head.status < 200) {
      if (head.status === 101) return this.fail('bad_response', '101 Switching Protocols to a request that asked for no upgrade', undefined);
      // 100 Continue, 103 Early Hints: informational, the real answer follows.
      if (size < buf.length) this.#head(buf.subarray(size));
      return;
    }
    this.state = 'streaming';
    this.#framing = head.body;
    this.keepAlive = head.keepAlive;
    this.handler!.onResponseStart(head);
    if (this.handler === undefined) return; // the handler aborted
    switch (head.body.kind) {
      case 'none':
        return this.complete(EMPTY, size < buf.length);
      case 'length':
        // Content-Length: 0 ends the answer with its head (an empty echo, say).
        if (head.body.length === 0) return this.complete(EMPTY, size < buf.length);
        this.#remaining = head.body.length;
        break;
      case 'chunked':
        this.#decoder = new ChunkedDecoder();
        break;
      case 'close':
        this.keepAlive = false;
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
      if (this.#remaining === 0 && this.handler !== undefined) this.complete(EMPTY, avail > take);
      return;
    }
    if (framing.kind === 'chunked') {
      let end: number;
      try {
        end = this.#decoder!.feed(buf, start, decoderOnData, this);
      } catch (err) {
        return this.fail('aborted_response', `malformed chunked body: ${(err as Error).message}`, err);
      }
      if (end !== -1 && this.handler !== undefined) this.complete(this.#decoder!.trailers, end < buf.length);
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
    const handler = this.handler;
    if (handler === undefined || data.length === 0) return;
    if (!handler.onResponseData(this.#keep(data)) && !this.paused && this.handler !== undefined) {
      // The client is slower than the app: stop reading until the handler resumes us.
      this.paused = true;
      this.socket.pause();
    }
  }

  /**
   * `view` as a buffer the handler may keep. Out of the shared buffer it is copied: a large one
   * into the connection's own buffer (the body after a head, in the read that brought the head),
   * so that a large answer allocates nothing.
   */
  #keep(view: Buffer): Buffer {
    const buffers = this.ctx.buffers;
    if (view.length < LARGE_READ || view.buffer !== buffers.shared.buffer) return buffers.keep(view);
    const own = this.#ownBuffer();
    view.copy(own);
    return own.subarray(0, view.length);
  }

  /**
   * The answer is over: the buffer of its own goes back for another large body, unless the
   * handler still holds bytes of it. Called during a read (or after the last one): the read
   * after it goes to the shared buffer, since `#large` is false from here.
   */
  protected answerEnded(handler: ResponseHandler): void {
    this.#decoder = undefined;
    const own = this.#own;
    this.#own = undefined;
    this.#large = false;
    if (own !== undefined && handler.released()) this.ctx.buffers.give(own);
  }

  /** The connection is gone: the handler may still hold bytes of its own buffer, never given back from here. */
  protected dropOwn(): void {
    this.#own = undefined;
  }
}

function decoderOnData(reader: ResponseReader, data: Buffer): void {
  reader.data(data);
}
