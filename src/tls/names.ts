import { isIP } from 'node:net';
import type { Config } from '../config/types.js';

/**
 * Certificates by name: exact names and one-label wildcards (`*.example.com` covers
 * `a.example.com`, not `example.com` nor `a.b.example.com`, as RFC 6125 and browsers read
 * them). The most specific wins: an exact name over a wildcard; among equals, the first added.
 * Pure, no TLS here.
 */
export class NameTable<T> {
  readonly #exact = new Map<string, T>();
  readonly #wildcard = new Map<string, T>();

  /** Add `value` under each of `names` (lower case, `*.` for a wildcard); earlier entries keep a name. */
  add(names: readonly string[], value: T): void {
    for (const name of names) {
      const n = name.toLowerCase();
      const map = n.startsWith('*.') ? this.#wildcard : this.#exact;
      const key = n.startsWith('*.') ? n.slice(2) : n;
      if (!map.has(key)) map.set(key, value);
    }
  }

  /** The entry for a host name, or undefined. */
  match(name: string): T | undefined {
    const n = name.toLowerCase();
    const exact = this.#exact.get(n);
    if (exact !== undefined) return exact;
    const dot = n.indexOf('.');
    return dot <= 0 ? undefined : this.#wildcard.get(n.slice(dot + 1));
  }
}

/** A host name from a Host header or authority: without port or brackets, lower case; undefined for IP literals. */
export function hostName(authority: string | undefined): string | undefined {
  if (authority === undefined || authority === '') return undefined;
  if (authority.startsWith('[')) return undefined; // an IPv6 literal: no certificate names it
  const colon = authority.lastIndexOf(':');
  const host = (colon === -1 ? authority : authority.slice(0, colon)).toLowerCase();
  if (host === '' || /^[\d.]+$/.test(host)) return undefined;
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/**
 * The exact host names of `config`'s services that no static certificate of `store` covers:
 * ACME's to obtain. Wildcards and IP literals are not ACME's. Sorted.
 */
export function acmeHosts(config: Config, store: { coveredByStatic(host: string): boolean }): string[] {
  const hosts = new Set<string>();
  for (const s of Object.values(config.services)) {
    for (const h of s.hosts) {
      if (h === '*' || h.startsWith('*.') || h.startsWith('[') || isIP(h) !== 0) continue;
      if (!store.coveredByStatic(h)) hosts.add(h);
    }
  }
  return [...hosts].sort();
}
