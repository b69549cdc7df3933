import { ChunkedDecoder } from '../../http1/chunked.js';
import type { BodyFraming } from '../../http1/types.js';
import type { BodyError } from '../downstream.js';
import type { H1Downstream } from './downstream.js';

/** Body bytes read and dropped after an early answer, at most, before the connection is closed instead. */
export const DISCARD_MAX = 1024 * 1024;

const EMPTY: readonly string[] = [];

/**
 * The body of one request on an HTTP/1.1 connection, as it arrives: framed by Content-Length
 * or chunked (decoded strictly), counted against `max_body`, and handed to the request's sink
 * with backpressure, or dropped when the request was answered before its body was read.
 */
export class BodyReader {
  readonly req: H1Downstream;
  state: 'reading' | 'done' | 'failed' = 'reading';
  failure: BodyError | undefined;
  trailers: readonly string[] = EMPTY;
  /** The sink asked for a pause (its upstream is slow). */
  paused = false;
  /** The request was answered first: what is left of the body is read and dropped. */
  discarding = false;
  readonly #maxBody: number;
  #remaining: number;
  readonly #decoder: ChunkedDecoder | undefined;
  #seen = 0;

  constructor(req: H1Downstream, framing: BodyFraming, maxBody: number) {
    this.req = req;
    this.#maxBody = maxBody;
    this.#remaining = framing.kind === 'length' ? framing.length : 0;
    this.#decoder = framing.kind === 'chunked' ? new ChunkedDecoder() : undefined;
  }

  /** Nobody reads it yet (held at the gate, connecting) or its reader is slow. */
  get blocked(): boolean {
    return !this.discarding && (this.req.sink === undefined || this.paused);
  }

  /** Whether what is left is too much to read only to drop it (the connection closes instead). */
  get tooLongToDiscard(): boolean {
    return this.#decoder === undefined && this.#remaining > DISCARD_MAX;
  }

  /** Read from `buf`; returns how many of its bytes belong to this body (the rest are the next request's). */
  feed(buf: Buffer): number {
    const decoder = this.#decoder;
    if (decoder === undefined) {
      const take = Math.min(this.#remaining, buf.length);
      this.#remaining -= take;
      this.#deliver(take === buf.length ? buf : buf.subarray(0, take));
      if (this.#remaining === 0 && this.state === 'reading') this.state = 'done';
      return take;
    }
    let end: number;
    try {
      end = decoder.feed(buf, 0, decoderOnData, this);
    } catch {
      this.#fail('malformed');
      return buf.length;
    }
    if (end === -1 || this.state !== 'reading') return buf.length;
    this.trailers = decoder.trailers;
    this.state = 'done';
    return end;
  }

  /** Bytes from the chunked decoder. */
  decoded(data: Buffer): void {
    this.#deliver(data);
  }

  #deliver(data: Buffer): void {
    if (this.state !== 'reading' || data.length === 0) return;
    this.#seen += data.length;
    if (this.discarding) {
      if (this.#seen > DISCARD_MAX) this.#fail('aborted');
      return;
    }
    if (this.#maxBody > 0 && this.#seen > this.#maxBody) return this.#fail('too_large');
    this.req.bodyStarted = true;
    if (!this.req.sink!.onBodyData(data)) this.paused = true;
  }

  #fail(reason: BodyError): void {
    this.state = 'failed';
    this.failure = reason;
  }
}

function decoderOnData(reader: BodyReader, data: Buffer): void {
  reader.decoded(data);
}
