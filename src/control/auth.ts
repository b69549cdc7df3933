/**
 * Who may use the TCP control listener: a request carries `Authorization: Bearer <token>` (or,
 * from a browser on the dashboard, `Basic` with the token as the password), checked against
 * every token in constant time. The Unix socket relies on its file mode instead.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { isDashboardPath } from './observe-routes.js';
import type { NamedToken } from './token.js';

/** The tokens the TCP listener accepts, kept as digests. */
export class TokenCheck {
  readonly #expected: Array<{ name: string; digest: Buffer }>;

  constructor(tokens: readonly NamedToken[]) {
    this.#expected = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
  }

  /** The name of the token `req` presents, or `undefined` when it presents none that is known. */
  nameOf(req: http.IncomingMessage): string | undefined {
    const given = presentedToken(req.headers.authorization ?? '');
    // Compare digests in constant time, against every token: neither length nor which one leaks.
    let name: string | undefined;
    if (given !== '') {
      const d = digest(given);
      for (const e of this.#expected) if (timingSafeEqual(d, e.digest)) name ??= e.name;
    }
    return name;
  }
}

/** 401: a Basic challenge for a browser on the dashboard, else the contract's error shape with a Bearer challenge. */
export function refuseUnauthorized(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  if (isDashboardPath(req.url ?? '/')) {
    res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Basic realm="baton", charset="UTF-8"' });
    res.end('401 the dashboard on the TCP control listener needs its token: any user name, the token as the password\n');
    return;
  }
  const text = JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'the TCP control listener requires "Authorization: Bearer <token>"' } }) + '\n';
  res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The token of `Authorization: Bearer <token>`, or the password of `Basic` (a browser on the dashboard). */
function presentedToken(auth: string): string {
  if (auth.startsWith('Bearer ')) return auth.slice(7).trim();
  if (auth.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? '' : decoded.slice(colon + 1);
  }
  return '';
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
