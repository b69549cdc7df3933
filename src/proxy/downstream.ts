/**
 * The client side of the request path: one interface for "a request from a client, and the
 * way to answer it", whatever carries it. Implemented by Baton's own HTTP/1.1 connections
 * (h1/), by node:http's objects for the connections handed to it (node-downstream.ts), and by
 * HTTP/2 streams. The exchange (exchange.ts) only ever talks to this interface.
 *
 * Call order, from the exchange's side:
 *   attach(events)                       once, first
 *   readBody(sink) ... resumeBody()      at most once; the body flows with backpressure
 *   respond(...) write()* end() | abort()  the answer; respond and end at most once
 * and from the downstream's side, on the attached events:
 *   downstreamDrained()                  after write() returned false, when it may write again
 *   downstreamClosed()                   the client went away before end(); nothing more is sent
 */
import type { BodyFraming } from '../http1/types.js';

export type Protocol = 'http/1.0' | 'http/1.1' | 'h2';

/** How the answer's body is delimited, as the exchange decided it. */
export type ResponseBody =
  /** No body. `length`: a Content-Length to announce anyway (an answer to HEAD, a 304). */
  | { readonly kind: 'none'; readonly length?: number }
  | { readonly kind: 'length'; readonly length: number }
  /** Length unknown: chunked on HTTP/1.1, close-delimited on HTTP/1.0, DATA frames on h2. */
  | { readonly kind: 'stream'; readonly codings: readonly string[] };

/** Where a request body goes, chunk by chunk. */
export interface BodySink {
  /** `chunk` is the sink's to keep. False: pause until resumeBody(). */
  onBodyData(chunk: Buffer): boolean;
  onBodyEnd(trailers: readonly string[]): void;
  /** The body cannot be read to its end: malformed, over `max_body`, or the client stopped. */
  onBodyError(reason: BodyError): void;
}

export type BodyError = 'too_large' | 'malformed' | 'aborted';

export interface DownstreamEvents {
  downstreamDrained(): void;
  downstreamClosed(): void;
}

export interface Downstream {
  readonly method: string;
  /** The path and query to send upstream (origin-form). */
  readonly path: string;
  /** Host, or the authority of an absolute-form target or of `:authority` (h2). */
  readonly authority: string | undefined;
  /** The request's header fields, flat `[name, value, ...]`, names as sent. */
  readonly headers: readonly string[];
  readonly protocol: Protocol;
  /** Whether the client reached Baton over TLS. */
  readonly secure: boolean;
  /** The TLS version the connection negotiated (`TLSv1.3`); undefined over plain HTTP. */
  readonly tlsVersion: string | undefined;
  readonly remoteAddress: string;
  /** The body's framing as Baton read it (h2: `length` when announced, else chunked). */
  readonly body: BodyFraming;
  /** Whether any body byte was handed to a sink (a request whose body was read cannot be resent). */
  readonly bodyStarted: boolean;
  /** Whether respond() was called: past this point the only way to fail is abort(). */
  readonly responded: boolean;
  /** When the head was complete (performance.now()), if the connection read the clock then: the exchange's start. */
  readonly receivedAt?: number;

  attach(events: DownstreamEvents): void;
  readBody(sink: BodySink): void;
  resumeBody(): void;

  respond(status: number, reason: string, headers: readonly string[], body: ResponseBody): void;
  /** False: the client is slow; wait for downstreamDrained() before writing more. */
  write(chunk: Buffer): boolean;
  /**
   * Whether every chunk given to write() has been handed to the OS (none is queued or held):
   * the memory they lie in may be reused. False when it cannot tell.
   */
  readonly flushed: boolean;
  /** Send the head now rather than with the first body bytes (a long-lived stream's). */
  flush(): void;
  end(trailers?: readonly string[]): void;
  /** Cut the answer: the client sees it broken (HTTP/1.1: the connection closes; h2: the stream resets). */
  abort(): void;
  /** Do not reuse the connection after this answer (Baton is stopping, the body was refused). */
  closeAfterResponse(): void;
}
