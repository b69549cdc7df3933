/** HTTP-01 tokens (RFC 8555 8.3): kept apart from acme-client so the request path never loads it. */

/** The `token` of an HTTP-01 path: base64url (RFC 8555 8.1). */
export const ACME_HTTP_PREFIX = '/.well-known/acme-challenge/';

/** HTTP-01 tokens Baton answers on its plain listener, read by the request path. */
export class HttpTokens {
  readonly #tokens = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    this.#tokens.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.#tokens.delete(token);
  }

  /** The key authorization for a request path, if it is a pending challenge's. */
  answer(path: string): string | undefined {
    if (!path.startsWith(ACME_HTTP_PREFIX) || this.#tokens.size === 0) return undefined;
    return this.#tokens.get(path.slice(ACME_HTTP_PREFIX.length));
  }
}
