/**
 * The upstream side of the request path: how a request reaches a running version and how its
 * answer comes back, modelled on undici's dispatch handler. The transport knows framing and
 * connections, nothing else: which upstream, whether to retry, what error page to send and when
 * to cut are the exchange's (exchange.ts) decisions, made once there.
 *
 * Call order on the handler, for one dispatch:
 *   onRequestStart(controller)           the connection is ready: the body may be written now
 *   onRequestDrain()*                    after controller.writeBody() returned false
 *   onResponseStart(head)                once, the final (non-1xx) response head
 *   onResponseData(chunk)*               false: the transport stops reading until controller.resume()
 *   released()?                          asked between reads, and before onResponseEnd
 *   onResponseEnd(trailers)              the answer is complete
 * or, at any point before onResponseEnd, onResponseError(error) once, and nothing after it.
 * controller.abort() ends the dispatch from the handler's side: no callback follows it.
 */
import type { BodyFraming, ResponseHead } from '../http1/types.js';
import type { Upstream } from './upstream.js';

/** What is sent upstream. The exchange implements it: no object per attempt. */
export interface OutgoingRequest {
  readonly method: string;
  readonly path: string;
  /** Final header fields: framing fields (Content-Length, Transfer-Encoding) never among them. */
  readonly outgoingHeaders: readonly string[];
  /** The body as Baton read it from the client: the transport frames it upstream the same way. */
  readonly body: BodyFraming;
  /** When this attempt was dispatched (performance.now()): the transport's "now", read once by the exchange. */
  readonly dispatchedAt: number;
}

export interface RequestController {
  /** False: the upstream is slow; wait for onRequestDrain(). */
  writeBody(chunk: Buffer): boolean;
  endBody(trailers: readonly string[]): void;
  /** Read the response again after onResponseData returned false. */
  resume(): void;
  /** Give up on this dispatch (the client left, a deadline passed): the connection is discarded. */
  abort(): void;
}

export interface ResponseHandler {
  onRequestStart(controller: RequestController): void;
  onRequestDrain(): void;
  onResponseStart(head: ResponseHead): void;
  /** `chunk` is the handler's to keep (it may pass it to a socket as is). */
  onResponseData(chunk: Buffer): boolean;
  /**
   * Whether the handler holds none of the chunks it was given any more (written out, none
   * queued): the transport may read into their memory again. False when it cannot tell.
   */
  released(): boolean;
  onResponseEnd(trailers: readonly string[]): void;
  onResponseError(error: TransportError): void;
}

export interface Transport {
  dispatch(upstream: Upstream, request: OutgoingRequest, handler: ResponseHandler): void;
}

/** Why a dispatch failed, in the terms the retry rule and the error pages need. */
export type TransportErrorKind =
  /** Nothing listens there (ECONNREFUSED): nothing was sent. */
  | 'refused'
  /** The connection was reset or closed before the response began. */
  | 'reset'
  /** The response head was malformed, ambiguous or over the limits. */
  | 'bad_response'
  /** The connection broke while the response body was streaming. */
  | 'aborted_response'
  | 'other';

export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly kind: TransportErrorKind;
  /** Whether any byte of the request went on the wire (head or body). */
  readonly requestSent: boolean;
  /** Whether the connection had carried an earlier request (the keep-alive reuse race). */
  readonly reused: boolean;

  constructor(kind: TransportErrorKind, message: string, opts: { requestSent: boolean; reused: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.requestSent = opts.requestSent;
    this.reused = opts.reused;
  }
}
