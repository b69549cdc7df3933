/**
 * Host and path -> route, pure. The host picks a tier first, most specific first: an exact
 * name, then wildcard suffixes (longest first), then "*". Within the first tier that has a
 * route for the path, the longest path prefix wins; a prefix matches whole segments ("/api"
 * matches "/api", "/api/x" and "/api?q", not "/apix"). Built once per routing table; a reload
 * builds a new one and swaps it in.
 */

/** What a request is routed to, and the prefix that matched (for `strip_prefix`). */
export interface Route<T> {
  readonly value: T;
  readonly prefix: string;
}

export class Router<T> {
  readonly #exact = new Map<string, Array<Route<T>>>();
  /** Sorted by suffix length, longest first. */
  readonly #wildcards: Array<{ suffix: string; routes: Array<Route<T>> }> = [];
  #catchAll: Array<Route<T>> | undefined;

  /** Route `pattern` (exact, "*.domain" or "*") and `prefix` (a normalized path prefix) to `value`. */
  add(pattern: string, value: T, prefix = '/'): void {
    const p = pattern.toLowerCase();
    let routes: Array<Route<T>>;
    if (p === '*') routes = this.#catchAll ??= [];
    else if (p.startsWith('*.')) {
      const suffix = p.slice(1);
      let w = this.#wildcards.find((x) => x.suffix === suffix);
      if (w === undefined) {
        w = { suffix, routes: [] };
        this.#wildcards.push(w);
        this.#wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
      }
      routes = w.routes;
    } else {
      routes = this.#exact.get(p) ?? [];
      this.#exact.set(p, routes);
    }
    routes.push({ value, prefix });
    routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** `host` is the Host as sent (may carry a port, may be undefined); `path` the request's path and query. */
  match(host: string | undefined, path = '/'): Route<T> | undefined {
    if (host !== undefined && host !== '') {
      const name = hostname(host);
      const exact = this.#exact.get(name);
      const hit = exact === undefined ? undefined : longestPrefix(exact, path);
      if (hit !== undefined) return hit;
      for (const w of this.#wildcards) {
        // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
        if (name.length <= w.suffix.length || !name.endsWith(w.suffix)) continue;
        const wild = longestPrefix(w.routes, path);
        if (wild !== undefined) return wild;
      }
    }
    return this.#catchAll === undefined ? undefined : longestPrefix(this.#catchAll, path);
  }
}

function longestPrefix<T>(routes: ReadonlyArray<Route<T>>, path: string): Route<T> | undefined {
  for (const r of routes) if (prefixMatches(r.prefix, path)) return r;
  return undefined;
}

/** Whether `prefix` covers `path` in whole segments. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 0x2f /* / */ || next === 0x3f /* ? */;
}

/** `path` with `prefix` taken off (`/api/x?q` -> `/x?q`, `/api` -> `/`), for `strip_prefix`. */
export function stripPrefix(prefix: string, path: string): string {
  if (prefix === '/') return path;
  const rest = path.slice(prefix.length);
  return rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
}

/** Lower-cased host name without port or trailing dot; IPv6 literals keep their brackets. */
export function hostname(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  if (colon !== -1) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** The path of a request target, without its query. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
