/**
 * A certificate Baton serves: its PEM chain and key, the names it covers (from its
 * subjectAltName DNS entries, else its CN), its validity, and the TLS context made from it.
 * Static ones come from files and are checked before Baton starts (`checkTls`); ACME ones come
 * from storage or a fresh order.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { BatonError } from '../errors.js';
import type { Config } from '../config/types.js';
import type { TlsCertificateFiles } from '../config/tls-schema.js';

export type CertificateSource = 'static' | 'acme';

export interface ServedCertificate {
  readonly source: CertificateSource;
  /** DNS names covered, lower case; wildcards as `*.example.com`. */
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  readonly serial: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Where it came from: the files of a static one, the storage of an ACME one. */
  readonly origin: string;
  readonly context: tls.SecureContext;
}

/** The protocol settings every context shares: TLS 1.2 and 1.3 only. */
export const TLS_PROTOCOLS = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const satisfies tls.SecureContextOptions;

/** The names of a certificate: subjectAltName DNS entries, else the subject's CN. */
export function namesOf(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san !== undefined && san !== '') {
    const names = san
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e.startsWith('DNS:'))
      .map((e) => e.slice(4).toLowerCase());
    if (names.length > 0) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/**
 * Make a served certificate from PEM text. Throws a plain Error saying what is wrong (not a
 * certificate, a key that does not match it); callers add which file.
 */
export function servedCertificate(certPem: string, keyPem: string, source: CertificateSource, origin: string): ServedCertificate {
  const chain = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (chain === null) throw new CertificateProblem('cert', 'no PEM certificate in it');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain[0]!);
  } catch (err) {
    throw new CertificateProblem('cert', `not a readable certificate (${(err as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new CertificateProblem('key', `not a readable private key (${(err as Error).message})`);
  }
  if (!leaf.checkPrivateKey(key)) throw new CertificateProblem('key', 'the key does not match the certificate');
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ cert: certPem, key: keyPem, ...TLS_PROTOCOLS });
  } catch (err) {
    throw new CertificateProblem('cert', `not usable for TLS (${(err as Error).message})`);
  }
  return {
    source,
    names: namesOf(leaf),
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    serial: leaf.serialNumber,
    certPem,
    keyPem,
    origin,
    context,
  };
}

/** What is wrong with a certificate or its key, and which of the two. */
export class CertificateProblem extends Error {
  constructor(
    readonly part: 'cert' | 'key',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Read and check the static certificates of `tls.certificates`, in order.
 *
 * @throws BatonError `CONFIG_INVALID` naming the key path and the file (unreadable, not a
 *   certificate or key, a key that does not match its certificate): `baton start` and
 *   `baton validate` exit 2 with it.
 */
export async function loadStaticCertificates(files: readonly TlsCertificateFiles[]): Promise<ServedCertificate[]> {
  const out: ServedCertificate[] = [];
  for (const [i, f] of files.entries()) {
    const certPem = await readPem(f.cert, `tls.certificates[${i}].cert`);
    const keyPem = await readPem(f.key, `tls.certificates[${i}].key`);
    try {
      out.push(servedCertificate(certPem, keyPem, 'static', f.cert));
    } catch (err) {
      if (!(err instanceof CertificateProblem)) throw err;
      const file = err.part === 'cert' ? f.cert : f.key;
      const message = err.part === 'key' && err.message.startsWith('the key does not match') ? `${f.key} does not match the certificate ${f.cert}` : `${file}: ${err.message}`;
      throw invalid(`tls.certificates[${i}].${err.part}`, message, file);
    }
  }
  return out;
}

/**
 * What `baton validate` and `baton start` check of the `tls` section beyond its schema: every
 * static certificate and key readable, parseable and matching, and `acme.ca_file` readable.
 * Resolves when all is well (or there is no `tls`).
 *
 * @throws BatonError `CONFIG_INVALID` naming the key path and the file.
 */
export async function checkTls(config: Pick<Config, 'tls'>): Promise<void> {
  const t = config.tls;
  if (t === undefined) return;
  await loadStaticCertificates(t.certificates);
  if (t.acme?.caFile !== undefined) {
    const pem = await readPem(t.acme.caFile, 'tls.acme.ca_file');
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw invalid('tls.acme.ca_file', `${t.acme.caFile}: not a readable certificate (${(err as Error).message})`, t.acme.caFile);
    }
  }
}

async function readPem(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw invalid(key, `cannot read ${file}: ${e.code ?? e.message}`, file, err);
  }
}

function invalid(path: string, message: string, file: string, cause?: unknown): BatonError {
  return new BatonError('CONFIG_INVALID', `${path}: ${message}`, { cause, details: { file, problems: [{ path, message, line: 0 }] } });
}
