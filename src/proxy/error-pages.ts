import type { ServerResponse } from 'node:http';

/** Why Baton, not the app, answered. The body names it; X-Baton-Error carries it for scripts. */
export type ProxyErrorKind =
  | 'no_route'
  | 'bad_gateway'
  | 'gateway_timeout'
  | 'drain_timeout'
  | 'hold_timeout'
  | 'hold_overflow'
  | 'shutting_down'
  | 'no_upstream'
  | 'payload_too_large'
  | 'too_many_headers';

const PAGES: Record<ProxyErrorKind, { status: number; text: string }> = {
  no_route: { status: 404, text: 'No service is configured for this host.' },
  bad_gateway: { status: 502, text: 'The application could not be reached.' },
  gateway_timeout: { status: 504, text: 'The application took too long to answer.' },
  drain_timeout: { status: 504, text: 'The previous version was stopped before it answered.' },
  hold_timeout: { status: 503, text: 'The service is paused; try again shortly.' },
  hold_overflow: { status: 503, text: 'The service is paused and its queue is full; try again shortly.' },
  shutting_down: { status: 503, text: 'The proxy is restarting; try again shortly.' },
  no_upstream: { status: 503, text: 'The service has no running version.' },
  payload_too_large: { status: 413, text: 'The request body is too large.' },
  too_many_headers: { status: 431, text: 'The request has too many header fields.' },
};

export function statusFor(kind: ProxyErrorKind): number {
  return PAGES[kind].status;
}

/** Answer with Baton's short error page, unless a response already started (then cut it). */
export function sendError(res: ServerResponse, kind: ProxyErrorKind, requestId?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const page = PAGES[kind];
  // The rest of an oversized body is not worth reading: close the connection after this answer.
  if (kind === 'payload_too_large') res.shouldKeepAlive = false;
  const body = `${page.status} ${page.text}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-baton-error': kind,
  };
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  if (page.status === 503) headers['retry-after'] = '1';
  res.writeHead(page.status, headers);
  res.end(body);
}
