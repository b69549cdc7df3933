/**
 * The control API's read-only observability routes (issue 16):
 *
 *   GET /v1/history[?service=S&n=N&kind=K]   past changes, newest first
 *   GET /v1/series                           the last ten minutes of every service, a point a second
 *   GET /v1/events                           text/event-stream: `history` records as they change, a `tick` a second
 *   GET /dashboard/...                       the dashboard page, its assets, and the three above under /dashboard/api/
 *
 * Nothing here changes anything: the dashboard is a window, not a console.
 */
import type http from 'node:http';
import { BatonError } from '../errors.js';
import type { ControlApi, HistoryQuery } from './protocol.js';
import type { LiveEvent } from '../observe/live.js';
import type { HistoryKind } from '../observe/history-entry.js';
import { MAX_QUERY } from '../observe/history.js';
import { dashboardAsset } from '../dashboard/assets.js';
import { methodNotAllowed, sendError, sendJson } from './reply.js';

const DASHBOARD = '/dashboard';
const KINDS: readonly HistoryKind[] = ['deploy', 'rollback', 'promote', 'canary', 'pause', 'resume', 'maintenance', 'reload', 'upgrade'];
/** A stream whose client reads slower than this much backlog is let go (it reconnects). */
const MAX_BACKLOG = 1024 * 1024;

export function isDashboardPath(url: string): boolean {
  return url === DASHBOARD || url.startsWith(`${DASHBOARD}/`) || url.startsWith(`${DASHBOARD}?`);
}

/** Serve `url` if it is one of these routes; false when it is not (the caller goes on). */
export function serveObserve(req: http.IncomingMessage, res: http.ServerResponse, url: string, api: ControlApi): boolean {
  let route = url;
  if (isDashboardPath(url)) {
    if (url === DASHBOARD) {
      req.resume();
      res.writeHead(308, { location: `${DASHBOARD}/`, 'content-length': 0 });
      res.end();
      return true;
    }
    const rest = url.slice(DASHBOARD.length + 1);
    if (!rest.startsWith('api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') methodNotAllowed(res, 'GET');
      else serveAsset(req, res, rest === '' ? 'index.html' : rest);
      return true;
    }
    route = `/v1/${rest.slice(4)}`;
  }
  if (route !== '/v1/history' && route !== '/v1/series' && route !== '/v1/events' && route !== '/v1/status') return false;
  // /v1/status is the control server's own; under /dashboard/api/ it is an alias.
  if (route === '/v1/status' && route === url) return false;
  req.resume();
  if (req.method !== 'GET') {
    methodNotAllowed(res, 'GET');
    return true;
  }
  try {
    switch (route) {
      case '/v1/status':
        sendJson(res, 200, api.status());
        break;
      case '/v1/history':
        sendJson(res, 200, api.history(historyQuery(new URL(req.url ?? '/', 'http://control').searchParams)));
        break;
      case '/v1/series':
        sendJson(res, 200, api.series());
        break;
      case '/v1/events':
        streamEvents(res, api);
        break;
    }
  } catch (err) {
    sendError(res, err);
  }
  return true;
}

export function historyQuery(search: URLSearchParams): HistoryQuery {
  const q: HistoryQuery = {};
  const service = search.get('service');
  if (service !== null && service !== '') q.service = service;
  const n = search.get('n');
  if (n !== null) {
    const v = /^\d{1,4}$/.test(n) ? Number(n) : NaN;
    if (!(v >= 1 && v <= MAX_QUERY)) throw new BatonError('BAD_REQUEST', `n: expected a number of records from 1 to ${MAX_QUERY}, got ${JSON.stringify(n)}`);
    q.n = v;
  }
  const kind = search.get('kind');
  if (kind !== null) {
    if (!(KINDS as readonly string[]).includes(kind)) throw new BatonError('BAD_REQUEST', `kind: expected one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    q.kind = kind as HistoryKind;
  }
  return q;
}

/** Server-sent events until the client leaves (or Baton's control server closes). */
function streamEvents(res: http.ServerResponse, api: ControlApi): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  // The browser reconnects a second after a cut (a Baton restart).
  res.write('retry: 1000\n\n');
  const send = (e: LiveEvent): void => {
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > MAX_BACKLOG) {
      res.destroy();
      return;
    }
    res.write(`event: ${e.type}\ndata: ${JSON.stringify(e.type === 'history' ? e.entry : { t: e.t, status: e.status, points: e.points })}\n\n`);
  };
  const unsubscribe = api.subscribe(send);
  res.once('close', unsubscribe);
}

function serveAsset(req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
  req.resume();
  const asset = dashboardAsset(name);
  if (asset === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('404 not found\n');
    return;
  }
  const headers: http.OutgoingHttpHeaders = {
    'content-type': asset.type,
    'content-length': asset.body.length,
    etag: asset.etag,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, { etag: asset.etag, 'cache-control': 'no-cache' });
    res.end();
    return;
  }
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
