import http from 'node:http';
import type { SwapEvent } from '../control/protocol.js';

/** A reply from the control socket: status code and parsed JSON body. */
export interface Reply {
  status: number;
  body: unknown;
}

export class ConnectError extends Error {
  override readonly name = 'ConnectError';
}

/**
 * One control request over the Unix socket. For NDJSON replies, each event is passed to
 * `onEvent` as it arrives and the last one is the body.
 */
export function request(socketPath: string, method: string, path: string, body?: unknown, onEvent?: (e: SwapEvent) => void): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath,
        method,
        path,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        res.setEncoding('utf8');
        const ndjson = (res.headers['content-type'] ?? '').startsWith('application/x-ndjson');
        let buffer = '';
        let last: unknown;
        res.on('data', (chunk: string) => {
          buffer += chunk;
          if (!ndjson) return;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) !== -1) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line === '') continue;
            last = JSON.parse(line);
            onEvent?.(last as SwapEvent);
          }
        });
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: ndjson ? last : buffer.trim() === '' ? undefined : JSON.parse(buffer) });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new ConnectError(`no Baton is listening on ${socketPath} (${err.code}); start one with "baton start"`));
      else reject(err);
    });
    req.end(payload);
  });
}
