import type { Downstream } from './downstream.js';

/** Why Baton, not the app, answered. The body names it; X-Baton-Error carries it for scripts. */
export type ProxyErrorKind =
  | 'no_route'
  | 'bad_gateway'
  | 'gateway_timeout'
  | 'drain_timeout'
  | 'hold_timeout'
  | 'hold_overflow'
  | 'no_upstream'
  | 'payload_too_large'
  | 'bad_request'
  | 'too_many_headers';

const PAGES: Record<ProxyErrorKind, { status: number; reason: string; text: string }> = {
  no_route: { status: 404, reason: 'Not Found', text: 'No service is configured for this host.' },
  bad_gateway: { status: 502, reason: 'Bad Gateway', text: 'The application could not be reached.' },
  gateway_timeout: { status: 504, reason: 'Gateway Timeout', text: 'The application took too long to answer.' },
  drain_timeout: { status: 504, reason: 'Gateway Timeout', text: 'The previous version was stopped before it answered.' },
  hold_timeout: { status: 503, reason: 'Service Unavailable', text: 'The service is paused; try again shortly.' },
  hold_overflow: { status: 503, reason: 'Service Unavailable', text: 'The service is paused and its queue is full; try again shortly.' },
  no_upstream: { status: 503, reason: 'Service Unavailable', text: 'The service has no running version.' },
  payload_too_large: { status: 413, reason: 'Payload Too Large', text: 'The request body is too large.' },
  bad_request: { status: 400, reason: 'Bad Request', text: 'The request body is malformed.' },
  too_many_headers: { status: 431, reason: 'Request Header Fields Too Large', text: 'The request has too many header fields.' },
};

export function statusFor(kind: ProxyErrorKind): number {
  return PAGES[kind].status;
}

/** The bodies, made once: error pages are answered under load (a full hold queue). */
const BODIES = Object.fromEntries(Object.entries(PAGES).map(([kind, p]) => [kind, Buffer.from(`${p.status} ${p.text}\n`)])) as Record<ProxyErrorKind, Buffer>;

/**
 * Answer with Baton's short error page, or cut the answer if one already started. Returns the
 * status sent (0 when cut). A refused body also ends the connection: its rest is not worth reading.
 */
export function sendError(downstream: Downstream, kind: ProxyErrorKind, requestId: string): number {
  if (downstream.responded) {
    downstream.abort();
    return 0;
  }
  const page = PAGES[kind];
  if (kind === 'payload_too_large' || kind === 'bad_request') downstream.closeAfterResponse();
  const body = BODIES[kind];
  const headers = ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-store', 'x-baton-error', kind, 'x-request-id', requestId];
  if (page.status === 503) headers.push('retry-after', '1');
  downstream.respond(page.status, page.reason, headers, { kind: 'length', length: body.length });
  downstream.write(body);
  downstream.end();
  return page.status;
}
