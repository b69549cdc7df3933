import type { Downstream } from '../proxy/downstream.js';
import type { EdgeAnswer } from '../proxy/request-path.js';
import { ACME_HTTP_PREFIX, type HttpTokens } from './http-tokens.js';
import type { CertificateStore } from './store.js';
import { hostName } from './names.js';

/**
 * What the TLS edge answers on the plain listener: an ACME HTTP-01 token, or the redirect to
 * https (`redirectHttp`) for a host it serves; undefined: the request path goes on. Challenge
 * paths Baton has no token for are not redirected: they go to the app, which may answer its own.
 */
export function answerPlain(req: Downstream, tokens: HttpTokens, store: CertificateStore, redirectHttp: boolean, httpsPort: number): EdgeAnswer | undefined {
  const answer = tokens.answer(req.path);
  if (answer !== undefined) {
    const body = Buffer.from(answer);
    req.respond(200, 'OK', ['content-type', 'text/plain', 'cache-control', 'no-store'], { kind: 'length', length: body.length });
    if (req.method !== 'HEAD') req.write(body);
    req.end();
    return { status: 200, kind: 'acme_challenge' };
  }
  if (!redirectHttp || req.path.startsWith(ACME_HTTP_PREFIX) || !req.path.startsWith('/')) return undefined;
  const host = hostName(req.authority);
  if (host === undefined || !store.serves(host)) return undefined;
  const location = `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.path}`;
  const body = Buffer.from(`308 Permanent Redirect: ${location}\n`);
  req.respond(308, 'Permanent Redirect', ['location', location, 'content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-store'], { kind: 'length', length: body.length });
  if (req.method !== 'HEAD') req.write(body);
  req.end();
  return { status: 308, kind: 'redirect_https' };
}
