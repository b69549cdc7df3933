/**
 * The `tls:` section and the per-service `hsts:` key, as zod schemas, and the TLS part of the
 * typed config. Kept apart from schema.ts so the edge (issue 11) reads in one place; schema.ts
 * and service-schema.ts hook them in and load.ts resolves the paths here against the config
 * file's folder. Built from the same blocks (leaf.ts) and leaf values (values.ts) as they are.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { Expected, leaf, strict } from './leaf.js';
import { MAX_DURATION_MS, parseHostPort } from './values.js';

export interface TlsCertificateFiles {
  /** Absolute path of the PEM certificate chain (leaf first). */
  cert: string;
  /** Absolute path of its PEM private key. */
  key: string;
}

export type AcmeChallenge = 'http-01' | 'tls-alpn-01';

export interface AcmeConfig {
  /** The ACME directory URL (RFC 8555). */
  directory: string;
  email: string | undefined;
  /** Absolute path of an extra CA (PEM) trusted for the directory's HTTPS, e.g. a test CA. */
  caFile: string | undefined;
  challenge: AcmeChallenge;
  /** Absolute folder of the account key and certificates (files mode 0600). */
  storage: string;
  /** Renew when at most this share of a certificate's lifetime remains (default 1/3; 1 renews at every check). */
  renewRemaining: number;
  /** The first retry of a failed order after this long; doubled at each failure, up to an hour (or this, if longer). */
  retryAfterMs: number;
  /** How often certificates are checked for renewal. */
  checkIntervalMs: number;
}

export interface TlsConfig {
  listen: { host: string; port: number };
  /** Plain-HTTP requests for a host Baton has a certificate for get 308 to https. */
  redirectHttp: boolean;
  certificates: TlsCertificateFiles[];
  acme: AcmeConfig | undefined;
  /** Session tickets (resumption): on, with keys replaced every `rotateMs`. */
  sessionTickets: { enabled: boolean; rotateMs: number };
}

/** Strict-Transport-Security for a service's answers over TLS. */
export interface HstsConfig {
  maxAgeSeconds: number;
  includeSubdomains: boolean;
  preload: boolean;
}

/** A duration with a floor of `min` ms (leaf.ts's `duration` knows only "above 0"). */
function durationAtLeast(fallback: string, min = 0) {
  return leaf((input) => {
    const ms = typeof input === 'string' ? parseDuration(input) : undefined;
    if (ms === undefined) return new Expected('a duration like "10s"');
    if (ms < min) return new Expected(`a duration of at least ${min}ms`);
    return ms <= MAX_DURATION_MS ? ms : new Expected('a duration of at most 596h');
  }).prefault(fallback);
}

const listenSchema = leaf((input) => (typeof input === 'string' ? parseHostPort(input) : undefined) ?? new Expected('host:port like "127.0.0.1:8443"'));

const fileSchema = leaf((v) => (typeof v === 'string' && v !== '' ? v : new Expected('a file path')));

const certificateSchema = strict({ cert: fileSchema, key: fileSchema });

const directorySchema = leaf((v) => {
  if (typeof v !== 'string') return new Expected('an https URL of an ACME directory');
  try {
    const url = new URL(v);
    return url.protocol === 'https:' ? v : new Expected('an https URL of an ACME directory');
  } catch {
    return new Expected('an https URL of an ACME directory');
  }
});

const emailSchema = leaf((v) => (typeof v === 'string' && /^[^\s@]+@[^\s@]+$/.test(v) ? v : new Expected('an email address')));

const shareSchema = leaf((v) => (typeof v === 'number' && v > 0 && v <= 1 ? v : new Expected('a share of the lifetime above 0 and at most 1, like 0.33')));

const acmeSchema = strict({
  directory: directorySchema,
  email: emailSchema.optional(),
  ca_file: fileSchema.optional(),
  challenge: z.enum(['http-01', 'tls-alpn-01']).default('http-01'),
  storage: fileSchema.prefault('./acme'),
  renew_remaining: shareSchema.prefault(1 / 3),
  retry_after: durationAtLeast('1m', 100),
  check_interval: durationAtLeast('12h', 1000),
}).transform(
  (a): AcmeConfig => ({
    directory: a.directory,
    email: a.email,
    caFile: a.ca_file,
    challenge: a.challenge,
    storage: a.storage,
    renewRemaining: a.renew_remaining,
    retryAfterMs: a.retry_after,
    checkIntervalMs: a.check_interval,
  }),
);

const ticketsSchema = strict({ enabled: z.boolean().default(true), rotate: durationAtLeast('12h', 1000) })
  .transform((t) => ({ enabled: t.enabled, rotateMs: t.rotate }))
  .prefault({});

/** `tls:` at the top level. Paths stay as written: `resolveTlsPaths` makes them absolute. */
export const tlsSchema = strict({
  listen: listenSchema.prefault('127.0.0.1:8443'),
  redirect_http: z.boolean().default(true),
  certificates: z.array(certificateSchema).default(() => []),
  acme: acmeSchema.optional(),
  session_tickets: ticketsSchema,
})
  .superRefine(
    (t, ctx) => {
      const raw: unknown = t;
      if (typeof raw !== 'object' || raw === null) return;
      const r = raw as Record<string, unknown>;
      const certs = r['certificates'];
      if ((certs === undefined || (Array.isArray(certs) && certs.length === 0)) && r['acme'] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['certificates'], message: 'expected at least one certificate, or an acme section to obtain them, got none' });
      }
    },
    { when: () => true },
  )
  .transform(
    (t): TlsConfig => ({
      listen: t.listen,
      redirectHttp: t.redirect_http,
      certificates: t.certificates,
      acme: t.acme,
      sessionTickets: t.session_tickets,
    }),
  );

/** `hsts:` of a service: `true` (one year), or `{max_age: seconds, include_subdomains, preload}`. Off when absent. */
export const hstsSchema = z
  .union([
    z.boolean(),
    strict({
      max_age: leaf((v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : new Expected('a number of seconds like 31536000'))).prefault(31_536_000),
      include_subdomains: z.boolean().default(false),
      preload: z.boolean().default(false),
    }),
  ])
  .optional()
  .transform((h): HstsConfig | undefined => {
    if (h === undefined || h === false) return undefined;
    if (h === true) return { maxAgeSeconds: 31_536_000, includeSubdomains: false, preload: false };
    return { maxAgeSeconds: h.max_age, includeSubdomains: h.include_subdomains, preload: h.preload };
  });

/** The header value of an HSTS setting. */
export function hstsValue(h: HstsConfig): string {
  return `max-age=${h.maxAgeSeconds}${h.includeSubdomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

/** The section with every path absolute, against the config file's folder. */
export function resolveTlsPaths(tls: TlsConfig, dir: string): TlsConfig {
  return {
    ...tls,
    certificates: tls.certificates.map((c) => ({ cert: resolve(dir, c.cert), key: resolve(dir, c.key) })),
    acme: tls.acme === undefined ? undefined : { ...tls.acme, storage: resolve(dir, tls.acme.storage), caFile: tls.acme.caFile === undefined ? undefined : resolve(dir, tls.acme.caFile) },
  };
}
