/**
 * The control API's endpoint table: which method and path does what, each body's fields
 * checked before the ControlApi is called. History, series, the event stream and the
 * dashboard are observe-routes.ts.
 */
import type http from 'node:http';
import { BatonError } from '../errors.js';
import type { Caller } from '../observe/history-entry.js';
import { checkMessageLength, optionalTimeout, readJson } from './body.js';
import { sendEvents, type LogStreams } from './ndjson.js';
import { serveObserve } from './observe-routes.js';
import type { ControlApi } from './protocol.js';
import { methodNotAllowed, sendError, sendJson } from './reply.js';

const SERVICE_ACTION = /^\/v1\/services\/([^/]+)\/(deploy|rollback|promote|pause|resume|notify|maintenance)$/;
const LOGS = /^\/v1\/services\/([^/]+)\/logs$/;

/** Answer one control request from `by`; every bad input gets the contract's error shape. */
export async function serveEndpoint(req: http.IncomingMessage, res: http.ServerResponse, by: Caller, api: ControlApi, logs: LogStreams): Promise<void> {
  const url = (req.url ?? '/').split('?')[0]!;
  // History, series, the event stream and the dashboard (issue 16): control/observe-routes.ts.
  if (serveObserve(req, res, url, api)) return;
  if (url === '/v1/status') {
    if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
    return sendJson(res, 200, api.status());
  }
  if (url === '/v1/reload') {
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    req.resume();
    try {
      return sendJson(res, 200, await api.reload(by));
    } catch (err) {
      return sendError(res, err);
    }
  }
  if (url === '/v1/upgrade') {
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    let readyTimeoutMs: number | undefined;
    try {
      readyTimeoutMs = optionalTimeout((await readJson(req)).timeout, '60s');
    } catch (err) {
      return sendError(res, err);
    }
    return sendEvents(res, (emit) => api.upgrade(emit, readyTimeoutMs === undefined ? { by } : { readyTimeoutMs, by }));
  }
  if (url === '/metrics') {
    if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
    const m = await api.metrics();
    res.writeHead(200, { 'content-type': m.contentType });
    res.end(m.body);
    return;
  }
  const logsMatch = LOGS.exec(url);
  if (logsMatch !== null) {
    if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
    return logs.send(req, res, api, decodeURIComponent(logsMatch[1]!));
  }
  const match = SERVICE_ACTION.exec(url);
  if (match === null) return sendError(res, new BatonError('NOT_FOUND', `no such endpoint: ${req.method} ${url}`));
  if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
  const service = decodeURIComponent(match[1]!);
  const action = match[2]!;
  let body: Record<string, unknown>;
  try {
    body = await readJson(req);
  } catch (err) {
    return sendError(res, err);
  }
  try {
    switch (action) {
      case 'deploy': {
        const version = body.version;
        if (typeof version !== 'string') throw new BatonError('BAD_REQUEST', 'body must be {"version": "<version>"}: "version" is missing or not a string');
        const canary = body.canary;
        if (canary !== undefined && canary !== null && typeof canary !== 'number') throw new BatonError('BAD_REQUEST', `"canary" must be a percentage from 1 to 99, got ${JSON.stringify(canary)}`);
        return await sendEvents(res, (emit) => api.deploy(service, version, emit, typeof canary === 'number' ? { canary, by } : { by }));
      }
      case 'rollback':
        return await sendEvents(res, (emit) => api.rollback(service, emit, by));
      case 'promote':
        return await sendEvents(res, (emit) => api.promote(service, emit, by));
      case 'maintenance': {
        const on = body.on;
        if (typeof on !== 'boolean') throw new BatonError('BAD_REQUEST', 'body must be {"on": true|false, "message"?: "<text>"}: "on" is missing or not true/false');
        const message = body.message ?? '';
        if (typeof message !== 'string') throw new BatonError('BAD_REQUEST', '"message" must be a string');
        checkMessageLength(message);
        return sendJson(res, 200, await api.maintenance(service, on, message, by));
      }
      case 'pause':
        return sendJson(res, 200, api.pause(service, optionalTimeout(body.timeout, '30s'), by));
      case 'resume':
        return sendJson(res, 200, api.resume(service, by));
      case 'notify': {
        const message = body.message;
        if (typeof message !== 'string' || message.length === 0) throw new BatonError('BAD_REQUEST', 'body must be {"message": "<text>"}: "message" is missing or empty');
        checkMessageLength(message);
        return sendJson(res, 200, api.notify(service, message));
      }
    }
  } catch (err) {
    return sendError(res, err);
  }
}
