import type http from 'node:http';
import type { Duplex } from 'node:stream';

/** Baton's own paths on the public listener. Exact matches only. */
export const CLIENT_JS_PATH = '/_baton/client.js';
export const NOTICE_WS_PATH = '/_baton/ws';

/**
 * Serves `/_baton/client.js`; every other `/_baton/` path is 404. Nothing here reflects request
 * input or touches the file system: the script is a constant made once.
 */
export class OwnRoutes {
  readonly #script: Buffer;

  constructor(script: string) {
    this.#script = Buffer.from(script);
  }

  serve(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
    if (pathOf(url) === CLIENT_JS_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'content-length': this.#script.length,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : this.#script);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 10 });
    res.end('not found\n');
  }
}

/** The path of a request target, without its query. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 431: 'Request Header Fields Too Large', 503: 'Service Unavailable' };

/** A short error answer written straight to a socket (no ServerResponse: upgrades, parse errors), then closed. */
export function rawError(socket: Duplex, status: number, detail?: string): void {
  if (socket.destroyed) return;
  const body = `${status} ${REASONS[status] ?? 'Error'}${detail === undefined ? '' : ` (${detail})`}\n`;
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${status === 503 ? 'retry-after: 1\r\n' : ''}\r\n${body}`);
}
