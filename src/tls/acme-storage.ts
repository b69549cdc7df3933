import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../state/atomic-write.js';
import path from 'node:path';

/** What is kept for one host. */
export interface StoredCertificate {
  certPem: string;
  keyPem: string;
}

/**
 * `tls.acme.storage`: the account key and URL, and each host's certificate chain and key, in a
 * folder per ACME directory (a staging account is not a production one). Folders mode 0700,
 * files 0600, each written whole to a temporary file, synced, then renamed over the old one, so
 * a crash leaves the old file or the new one, never half of either.
 *
 * ```
 * storage/<directory host>[_<port>]/account.key, account.json
 * storage/<directory host>[_<port>]/certificates/<host>.crt, <host>.key
 * ```
 */
export class AcmeStorage {
  readonly dir: string;

  constructor(storage: string, directoryUrl: string) {
    const url = new URL(directoryUrl);
    const folder = `${url.hostname}${url.port === '' ? '' : `_${url.port}`}`.replace(/[^a-zA-Z0-9._-]/g, '_');
    this.dir = path.join(storage, folder);
  }

  async accountKey(): Promise<string | undefined> {
    return readOptional(path.join(this.dir, 'account.key'));
  }

  async saveAccountKey(pem: string): Promise<void> {
    await this.#write('account.key', pem);
  }

  async accountUrl(): Promise<string | undefined> {
    const text = await readOptional(path.join(this.dir, 'account.json'));
    if (text === undefined) return undefined;
    try {
      const url = (JSON.parse(text) as { url?: unknown }).url;
      return typeof url === 'string' ? url : undefined;
    } catch {
      return undefined;
    }
  }

  async saveAccountUrl(url: string): Promise<void> {
    await this.#write('account.json', `${JSON.stringify({ url })}\n`);
  }

  async certificate(host: string): Promise<StoredCertificate | undefined> {
    const base = path.join(this.dir, 'certificates', fileName(host));
    const [certPem, keyPem] = await Promise.all([readOptional(`${base}.crt`), readOptional(`${base}.key`)]);
    return certPem === undefined || keyPem === undefined ? undefined : { certPem, keyPem };
  }

  /** The key first: a reader that finds a new chain finds its key too. */
  async saveCertificate(host: string, cert: StoredCertificate): Promise<void> {
    const name = path.join('certificates', fileName(host));
    await this.#write(`${name}.key`, cert.keyPem);
    await this.#write(`${name}.crt`, cert.certPem);
  }

  async #write(relative: string, text: string): Promise<void> {
    const file = path.join(this.dir, relative);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, text);
  }
}

/** A host name as a file name: host names are letters, digits, "-" and "." already. */
function fileName(host: string): string {
  return host.toLowerCase().replace(/[^a-z0-9.-]/g, '_');
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
