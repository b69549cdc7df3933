/**
 * The shapes of Baton's HTTP/1.x parsers and writers (this folder). Pure data: bytes in, values
 * out; no sockets, no clocks, no module state. Header lists are flat `[name, value, ...]` arrays
 * with names as sent and values with surrounding whitespace removed, in arrival order.
 */

/** How a message body is delimited, as Baton itself read it (never as a header claims later). */
export type BodyFraming =
  /** No body (Content-Length absent or 0 on a request; HEAD, 1xx, 204, 304 answers). */
  | { readonly kind: 'none' }
  /** Exactly `length` bytes (Content-Length). */
  | { readonly kind: 'length'; readonly length: number }
  /**
   * Transfer-Encoding whose last coding is chunked. `codings` are the codings before it, lower
   * case, in order (`gzip, chunked` -> ['gzip']): the recipient must undo them, so they travel on.
   */
  | { readonly kind: 'chunked'; readonly codings: readonly string[] }
  /** Until the connection closes (responses only: no length, or a last coding other than chunked). */
  | { readonly kind: 'close'; readonly codings: readonly string[] };

export interface HeadLimits {
  /** Bytes of a head at most, request or status line and CRLF CRLF included. */
  readonly maxHeadBytes: number;
  /** Header fields at most. */
  readonly maxHeaders: number;
}

/** A request head in the subset Baton serves itself (see request-head.ts). */
export interface RequestHead {
  readonly method: string;
  /** The request-target as sent. */
  readonly target: string;
  /** origin-form `/path?q`, absolute-form `http://host/path`, or `*` (OPTIONS only). */
  readonly form: 'origin' | 'absolute' | 'asterisk';
  /** The path and query to send on: the target itself, or the path of an absolute-form target ('/' if empty). */
  readonly path: string;
  /** Where the request is for: an absolute-form target's authority (RFC 9112 3.2.2), else Host; undefined if neither. */
  readonly authority: string | undefined;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  readonly headers: readonly string[];
  readonly body: BodyFraming;
  /** Whether the connection may carry another request after this one. */
  readonly keepAlive: boolean;
  /** Connection tokens, lower case, `close`, `keep-alive` and `upgrade` included. */
  readonly connection: readonly string[];
  /** The Upgrade field's value, lower case, when Connection names `upgrade`; else undefined. */
  readonly upgrade: string | undefined;
}

export type RequestHeadResult =
  /** No complete head yet, and nothing seen so far is wrong: read more. */
  | { readonly kind: 'incomplete' }
  /** `size`: bytes of the head, CRLF CRLF included; the body (if any) starts there. */
  | { readonly kind: 'head'; readonly head: RequestHead; readonly size: number }
  /**
   * Not in Baton's subset: the connection goes to node:http (llhttp), which serves or refuses
   * it. Said as soon as the first byte that makes it so is seen, never later.
   */
  | { readonly kind: 'decline'; readonly reason: string }
  /** Refused by Baton itself (what llhttp would accept but a proxy must not pass on). */
  | { readonly kind: 'reject'; readonly status: 400 | 405 | 414 | 431 | 505; readonly reason: string };

export interface ResponseHead {
  readonly minor: 0 | 1;
  readonly status: number;
  /** The reason phrase as sent; '' when none. */
  readonly reason: string;
  readonly headers: readonly string[];
  readonly body: BodyFraming;
  /** Whether the connection may carry another request once this response has been read. */
  readonly keepAlive: boolean;
  /** Connection tokens, lower case. */
  readonly connection: readonly string[];
  /** The first Content-Type value, if any. */
  readonly contentType: string | undefined;
}

export type ResponseHeadResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'head'; readonly head: ResponseHead; readonly size: number }
  /** Malformed, ambiguous or over the limits: the upstream connection cannot be trusted (502). */
  | { readonly kind: 'invalid'; readonly reason: string };
