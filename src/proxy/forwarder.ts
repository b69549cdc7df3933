import type http from 'node:http';
import type { Transform } from 'node:stream';
import type { Exchange } from '../upstream/exchange.js';

/** Where one request goes: an upstream's address and its keep-alive pool. */
export interface Target {
  readonly host: string;
  readonly port: number;
  readonly agent: http.Agent;
  /**
   * Runs `release` once the upstream has stopped (at once if it has already): how a forwarder
   * that keeps a pool of its own per target (undici) gives it the upstream's lifetime, as the
   * agent has. Optional: targets made by tests may leave it out.
   */
  onClose?(release: () => void): void;
}

/** One request to forward. The caller owns routing, the hold gate and in-flight tracking. */
export interface WebJob {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  target: Target;
  /** Headers to send upstream (hop-by-hop removed, X-Forwarded-* and X-Request-Id set). */
  headers: http.OutgoingHttpHeaders;
  /** The in-flight record on the target; the forwarder sets `onCut` and `isStream`. */
  exchange: Exchange;
  requestId: string;
  /** Time the upstream may take to send response headers before the client gets 504. */
  headersTimeoutMs: number;
  /** Whether a retry is still allowed (only the first attempt may ask for one). */
  mayRetry: boolean;
  /**
   * The body to send instead of `req` itself (a size-limiting stream over it). When set, the
   * body is being read already: the request is not retried, and an error of this stream with
   * code PAYLOAD_TOO_LARGE is answered 413.
   */
  body?: NodeJS.ReadableStream;
  /**
   * Optional (issue 4, `notify.inject`): called once with the upstream's answer before it is
   * sent on; may replace its headers and put a Transform between it and the client. Only
   * forwarders with `rewritesResponses` are handed jobs that carry it.
   */
  rewriteResponse?: ResponseRewrite;
}

/** The upstream answer a `ResponseRewrite` decides on; `headers` are the downstream raw pairs. */
export interface ResponseHead {
  method: string;
  statusCode: number;
  headers: readonly string[];
}

/** Returns the headers to send and the Transform the body goes through, or undefined: untouched. */
export type ResponseRewrite = (head: ResponseHead) => { headers: string[]; body: Transform } | undefined;

/**
 * How a failed attempt ended when nothing reached the client and nothing of the request was
 * consumed: the caller may send it again (once) to the service's current upstream.
 */
export type RetryHandler = (job: WebJob, error: Error) => void;

/** Reports upstream failures to the caller (logs, metrics). */
export type UpstreamErrorKind = 'refused' | 'reset' | 'timeout' | 'aborted_response' | 'other';
export type ErrorHandler = (job: WebJob, kind: UpstreamErrorKind, error: Error) => void;

/**
 * Sends HTTP requests to an upstream and streams the answer back. Behind this interface so
 * the benchmark can measure alternatives (http-proxy-3, undici, a lean node:http one) on equal terms.
 */
export interface Forwarder {
  readonly name: string;
  /**
   * Whether it honours `WebJob.rewriteResponse`. A forwarder without it is never handed a job
   * that carries one: the proxy sends those to the node forwarder instead (issue 4).
   */
  readonly rewritesResponses?: boolean;
  /**
   * Whether it uses only what the lean path's request and response offer (lean/request.ts,
   * lean/response.ts): method, url, headers, and writeHead/write/end/destroy/flushHeaders with
   * 'close' and 'drain'. Without it, every connection is served by node:http.
   */
  readonly servesLean?: boolean;
  web(job: WebJob): void;
}

export interface ForwarderHooks {
  onRetry: RetryHandler;
  onError: ErrorHandler;
}

/** A request that carries no body: nothing of it is lost if it must be sent again. */
export function isBodiless(req: http.IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return false;
  const cl = req.headers['content-length'];
  return cl === undefined || cl === '0';
}

export function errorKind(err: NodeJS.ErrnoException): UpstreamErrorKind {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return 'other';
  }
}
