/**
 * The control API's plain replies: JSON bodies, the contract's error shape (`{"error": {code,
 * message}}`, its status from the code), 405 with `Allow`, and 400 for malformed HTTP.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { BatonError, isBatonError, statusOf } from '../errors.js';
import type { ErrorBody } from './protocol.js';

/** `body` as JSON with `status`; a 413 closes the connection (the rest of the body is not read). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  if (status === 413) res.shouldKeepAlive = false;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `err` in the contract's error shape, its status from its code (anything not a BatonError is INTERNAL). */
export function sendError(res: http.ServerResponse, err: unknown): void {
  const e = isBatonError(err) ? err : new BatonError('INTERNAL', err instanceof Error ? err.message : String(err));
  const body: ErrorBody = { error: e.toJSON() };
  sendJson(res, statusOf(e.code), body);
}

/** 405, saying which method the path takes. */
export function methodNotAllowed(res: http.ServerResponse, allow: string): void {
  const text = JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: `use ${allow}` } }) + '\n';
  res.writeHead(405, { 'content-type': 'application/json', allow, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Malformed HTTP on the control socket still gets the contract's error shape. */
export function clientOnError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const text = JSON.stringify({ error: { code: 'BAD_REQUEST', message: `malformed HTTP request (${err.code ?? err.message})` } }) + '\n';
  socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
}
