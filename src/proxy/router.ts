/**
 * Host -> service, pure. Exact names win over wildcards, longer wildcard suffixes win over
 * shorter ones, and "*" catches everything else.
 */
export class Router<T> {
  readonly #exact = new Map<string, T>();
  /** Sorted by suffix length, longest first. */
  readonly #wildcards: Array<{ suffix: string; value: T }> = [];
  #catchAll: T | undefined;

  add(pattern: string, value: T): void {
    const p = pattern.toLowerCase();
    if (p === '*') this.#catchAll = value;
    else if (p.startsWith('*.')) {
      this.#wildcards.push({ suffix: p.slice(1), value });
      this.#wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
    } else this.#exact.set(p, value);
  }

  /** `host` is the Host header as sent (may carry a port, may be undefined). */
  match(host: string | undefined): T | undefined {
    if (host === undefined || host === '') return this.#catchAll;
    const name = hostname(host);
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    for (const w of this.#wildcards) {
      // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
      if (name.length > w.suffix.length && name.endsWith(w.suffix)) return w.value;
    }
    return this.#catchAll;
  }
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
