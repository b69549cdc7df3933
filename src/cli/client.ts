import http from 'node:http';

/** Where the CLI reaches a running Baton: its control socket, or its TCP control listener. */
export type ControlTarget = { kind: 'socket'; path: string } | { kind: 'tcp'; url: URL; token: string };

/** A reply from the control API: status code and parsed JSON body (the last line of NDJSON). */
export interface Reply {
  status: number;
  body: unknown;
}

/** No Baton answered: nothing listens on the socket or at the URL (exit 3). */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
}

/** How long a TCP connect may take before "no Baton answered". */
const CONNECT_TIMEOUT_MS = 5_000;
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function describeTarget(t: ControlTarget): string {
  return t.kind === 'socket' ? t.path : t.url.origin;
}

/**
 * One control request. For NDJSON replies, each line is passed to `onLine` as it arrives and
 * the last one is the body. A string target is a socket path (tests and bench/ call it so).
 */
export function request(to: ControlTarget | string, method: string, path: string, body?: unknown, onLine?: (line: unknown) => void): Promise<Reply> {
  const target: ControlTarget = typeof to === 'string' ? { kind: 'socket', path: to } : to;
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const where: http.RequestOptions =
      target.kind === 'socket'
        ? { socketPath: target.path }
        : { host: target.url.hostname.replace(/^\[|\]$/g, ''), port: Number(target.url.port || 80), timeout: CONNECT_TIMEOUT_MS };
    if (target.kind === 'tcp') headers.authorization = `Bearer ${target.token}`;
    let connected = false;
    const req = http.request({ ...where, method, path, headers }, (res) => {
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
          onLine?.(last);
        }
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: ndjson ? last : buffer.trim() === '' ? undefined : JSON.parse(buffer) });
        } catch (err) {
          reject(err);
        }
      });
      res.on('close', () => {
        if (!res.complete) reject(new Error(`the control connection to ${describeTarget(target)} closed mid-reply (did Baton stop?)`));
      });
      res.on('error', reject);
    });
    req.on('socket', (socket) => {
      const onConnect = (): void => {
        connected = true;
        socket.setTimeout(0); // the timeout is for connecting only: a deploy or a follow may be long
      };
      // A kept-alive socket (tests and bench/ send many requests) is connected already.
      if (socket.connecting) socket.once('connect', onConnect);
      else onConnect();
    });
    req.on('timeout', () => {
      if (!connected) req.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (UNREACHABLE.has(err.code ?? '') || err.code === 'ETIMEDOUT')) reject(new ConnectError(unreachable(target, err.code ?? err.message)));
      else reject(err);
    });
    req.end(payload);
  });
}

function unreachable(target: ControlTarget, code: string): string {
  if (target.kind === 'socket') return `no Baton is listening on ${target.path} (${code}); start one with "baton start"`;
  return `no Baton answered at ${target.url.origin} (${code})`;
}
