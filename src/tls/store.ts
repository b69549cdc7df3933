import tls from 'node:tls';
import type { ServedCertificate } from './certificate.js';
import { NameTable } from './names.js';

/** What `status` shows of a certificate. */
export interface CertificateStatus {
  names: string[];
  source: 'static' | 'acme';
  not_after: string;
  serial: string;
}

/**
 * The certificates the TLS listener serves, by SNI name: static ones (exact and wildcard, the
 * most specific first, the first configured among equals), then ACME ones (one per exact host).
 * A client naming a host no certificate covers gets the first static certificate. A handshake
 * naming an ACME host that has no certificate yet, or any name when there is no static
 * certificate to fall back on, is refused: `contextFor` says undefined and the connection is
 * closed during the handshake, before any certificate is sent (clients report it at once, as
 * "disconnected before secure TLS connection" or a reset). A client without SNI gets the first
 * static certificate, or a `handshake_failure` alert when there is none.
 */
export class CertificateStore {
  #statics: readonly ServedCertificate[] = [];
  #table = new NameTable<ServedCertificate>();
  readonly #acme = new Map<string, ServedCertificate>();
  /** ACME-managed hosts (with or without a certificate yet). */
  #managed = new Set<string>();
  /** TLS-ALPN-01 validation certificates, by host, while a challenge is pending. */
  readonly #alpn = new Map<string, tls.SecureContext>();

  /** Replace the static certificates (start, reload). */
  setStatic(certs: readonly ServedCertificate[]): void {
    const table = new NameTable<ServedCertificate>();
    for (const c of certs) table.add(c.names, c);
    this.#statics = certs;
    this.#table = table;
  }

  get defaultCertificate(): ServedCertificate | undefined {
    return this.#statics[0];
  }

  /** Whether a static certificate covers `host` (then ACME leaves it alone). */
  coveredByStatic(host: string): boolean {
    return this.#table.match(host) !== undefined;
  }

  setManaged(hosts: Iterable<string>): void {
    this.#managed = new Set(hosts);
    for (const h of this.#acme.keys()) if (!this.#managed.has(h)) this.#acme.delete(h);
  }

  setAcme(host: string, cert: ServedCertificate): void {
    this.#acme.set(host, cert);
  }

  acmeCertificate(host: string): ServedCertificate | undefined {
    return this.#acme.get(host);
  }

  setAlpnChallenge(host: string, context: tls.SecureContext | undefined): void {
    if (context === undefined) this.#alpn.delete(host);
    else this.#alpn.set(host, context);
  }

  get alpnPending(): boolean {
    return this.#alpn.size > 0;
  }

  alpnContext(servername: string): tls.SecureContext | undefined {
    return this.#alpn.get(servername.toLowerCase());
  }

  /** The context for a handshake naming `servername`; undefined: refuse it (see the class comment). */
  contextFor(servername: string): tls.SecureContext | undefined {
    const name = servername.toLowerCase();
    const hit = this.#table.match(name) ?? this.#acme.get(name);
    if (hit !== undefined) return hit.context;
    if (this.#managed.has(name)) return undefined;
    return this.#statics[0]?.context;
  }

  /** Whether Baton can serve `host` over TLS with a certificate that names it (the redirect rule). */
  serves(host: string): boolean {
    return this.#table.match(host) !== undefined || this.#acme.has(host);
  }

  status(): CertificateStatus[] {
    return [...this.#statics, ...this.#acme.values()].map((c) => ({ names: [...c.names], source: c.source, not_after: new Date(c.notAfter).toISOString(), serial: c.serial }));
  }
}
