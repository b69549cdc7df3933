/**
 * Certificates obtained and renewed from an ACME CA (RFC 8555) for every exact host of the
 * services that no static certificate covers, through acme-client. All of it runs beside the
 * data path: the TLS listener reads whatever certificate the store has at each handshake, and
 * an order in progress or failing changes nothing for requests.
 *
 * One order per host, one at a time. A stored certificate is served at once on start; it is
 * renewed when `renew_remaining` of its lifetime is left (a third by default). A failed order is
 * logged with the CA's reason and retried after `retry_after`, doubling each time up to an hour.
 */
import https from 'node:https';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import acme from 'acme-client';
import type { AcmeConfig } from '../config/tls-schema.js';
import type { ChallengeResponder } from './acme-challenges.js';
import { AcmeStorage, type StoredCertificate } from './acme-storage.js';
import { servedCertificate, type ServedCertificate } from './certificate.js';
import type { CertificateStore } from './store.js';

/** An order that has not finished by then has failed (each request also has its own timeout). */
const ORDER_TIMEOUT_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_BACKOFF_MS = 3_600_000;

export type HostAcmeState = 'pending' | 'ordering' | 'valid' | 'failing';

interface HostState {
  state: HostAcmeState;
  failures: number;
  /** No attempt before this (performance.now() time). */
  notBefore: number;
  lastError: string | undefined;
  /** When this Baton last obtained its certificate (0: never). */
  issuedAt: number;
}

export interface AcmeStatus {
  directory: string;
  challenge: string;
  hosts: Record<string, { state: HostAcmeState; failures: number; last_error: string | null; retry_in_ms: number | null }>;
}

export interface AcmeManagerOptions {
  config: AcmeConfig;
  store: CertificateStore;
  responder: ChallengeResponder;
  log: Logger;
}

export class AcmeManager {
  readonly config: AcmeConfig;
  readonly #store: CertificateStore;
  readonly #responder: ChallengeResponder;
  readonly #log: Logger;
  readonly #storage: AcmeStorage;
  readonly #hosts = new Map<string, HostState>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #client: acme.Client | undefined;

  constructor(opts: AcmeManagerOptions) {
    this.config = opts.config;
    this.#store = opts.store;
    this.#responder = opts.responder;
    this.#log = opts.log;
    this.#storage = new AcmeStorage(opts.config.storage, opts.config.directory);
  }

  /**
   * The hosts to keep certificates for (start, reload). Their stored certificates still valid
   * are served at once; the others are ordered by the next check, which runs soon.
   */
  async setHosts(hosts: readonly string[]): Promise<void> {
    const wanted = new Set(hosts);
    for (const h of [...this.#hosts.keys()]) if (!wanted.has(h)) this.#hosts.delete(h);
    this.#store.setManaged(wanted);
    for (const host of wanted) {
      if (this.#hosts.has(host)) continue;
      this.#hosts.set(host, { state: 'pending', failures: 0, notBefore: 0, lastError: undefined, issuedAt: 0 });
      const stored = await this.#storage.certificate(host).catch((err: unknown) => {
        this.#log.warn({ host, err: (err as Error).message }, 'stored certificate not read');
        return undefined;
      });
      const cert = stored === undefined ? undefined : this.#usable(host, stored);
      if (cert !== undefined) {
        this.#store.setAcme(host, cert);
        this.#hosts.get(host)!.state = 'valid';
        this.#log.info({ host, not_after: new Date(cert.notAfter).toISOString(), serial: cert.serial }, 'stored certificate loaded');
      }
    }
    this.#wake(0);
  }

  /** Begin checking (once the listeners are bound: the challenges are answered on them). */
  start(): void {
    this.#stopped = false;
    this.#wake(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  status(): AcmeStatus {
    const now = performance.now();
    const hosts: AcmeStatus['hosts'] = {};
    for (const [host, s] of this.#hosts) {
      hosts[host] = { state: s.state, failures: s.failures, last_error: s.lastError ?? null, retry_in_ms: s.state === 'failing' ? Math.max(0, Math.round(s.notBefore - now)) : null };
    }
    return { directory: this.config.directory, challenge: this.config.challenge, hosts };
  }

  #usable(host: string, stored: StoredCertificate): ServedCertificate | undefined {
    try {
      const cert = servedCertificate(stored.certPem, stored.keyPem, 'acme', this.#storage.dir);
      return cert.names.includes(host) && cert.notAfter > Date.now() ? cert : undefined;
    } catch (err) {
      this.#log.warn({ host, err: (err as Error).message }, 'stored certificate unusable');
      return undefined;
    }
  }

  /** Whether `host` needs an order now. */
  #due(host: string, s: HostState, now: number): boolean {
    if (now < s.notBefore) return false;
    const cert = this.#store.acmeCertificate(host);
    if (cert === undefined) return true;
    // Renewing "at every check" (renew_remaining: 1) still waits a check interval after an issuance.
    if (s.issuedAt !== 0 && now - s.issuedAt < this.config.checkIntervalMs) return false;
    const lifetime = cert.notAfter - cert.notBefore;
    return cert.notAfter - Date.now() <= lifetime * this.config.renewRemaining;
  }

  #wake(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#running !== undefined) return this.#wake(1000);
      this.#running = this.#check().finally(() => {
        this.#running = undefined;
        this.#wake(this.#nextCheckIn());
      });
    }, ms);
    this.#timer.unref();
  }

  #nextCheckIn(): number {
    const now = performance.now();
    let next = this.config.checkIntervalMs;
    for (const s of this.#hosts.values()) if (s.state === 'failing' || s.state === 'pending') next = Math.min(next, Math.max(0, s.notBefore - now));
    return Math.max(100, next);
  }

  async #check(): Promise<void> {
    for (const [host, s] of [...this.#hosts]) {
      if (this.#stopped) return;
      if (this.#hosts.get(host) !== s || !this.#due(host, s, performance.now())) continue;
      await this.#order(host, s);
    }
  }

  async #order(host: string, s: HostState): Promise<void> {
    const began = performance.now();
    const renewing = this.#store.acmeCertificate(host) !== undefined;
    s.state = 'ordering';
    this.#log.info({ host, challenge: this.config.challenge, renewing }, 'certificate order started');
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no certificate within ${ORDER_TIMEOUT_MS / 1000} s`)), ORDER_TIMEOUT_MS);
      });
      const stored = await Promise.race([this.#obtain(host), timeout]);
      const cert = servedCertificate(stored.certPem, stored.keyPem, 'acme', this.#storage.dir);
      await this.#storage.saveCertificate(host, stored);
      if (this.#hosts.get(host) !== s) return; // removed by a reload meanwhile
      this.#store.setAcme(host, cert);
      Object.assign(s, { state: 'valid', failures: 0, notBefore: 0, lastError: undefined, issuedAt: performance.now() });
      this.#log.info({ host, ms: Math.round(performance.now() - began), not_after: new Date(cert.notAfter).toISOString(), serial: cert.serial, renewed: renewing }, 'certificate obtained');
    } catch (err) {
      s.failures++;
      const backoff = Math.min(Math.max(MAX_BACKOFF_MS, this.config.retryAfterMs), this.config.retryAfterMs * 2 ** (s.failures - 1));
      s.state = 'failing';
      s.lastError = await this.#reasonOf(err);
      s.notBefore = performance.now() + backoff;
      this.#log.warn({ host, reason: s.lastError, failures: s.failures, retry_in_ms: backoff, serving: this.#store.acmeCertificate(host) !== undefined }, 'certificate order failed');
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Why an order failed, in one line. acme-client loses the network error of a request whose
   * retries ran out (it fails reading the missing response), so then the directory is fetched
   * once more here to name what the network said.
   */
  async #reasonOf(err: unknown): Promise<string> {
    const text = describeError(err);
    if (!(err instanceof TypeError)) return text;
    const agent = (acme.axios.defaults as { httpsAgent?: https.Agent }).httpsAgent;
    const network = await new Promise<string | undefined>((resolve) => {
      const req = https.get(this.config.directory, { agent, timeout: 10_000 }, (res) => {
        res.resume();
        resolve(undefined);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`${e.message}${e.code !== undefined && !e.message.includes(e.code) ? ` (${e.code})` : ''}`));
    });
    return network === undefined ? `a request to the CA failed (${text})` : `the ACME directory ${this.config.directory} could not be reached: ${network}`;
  }

  /** One order, start to certificate. */
  async #obtain(host: string): Promise<StoredCertificate> {
    const client = await this.#account();
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
    const authorizations = await client.getAuthorizations(order);
    for (const authz of authorizations) {
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === this.#responder.kind);
      if (challenge === undefined) throw new Error(`the CA offers no ${this.#responder.kind} challenge for ${host} (offered: ${authz.challenges.map((c) => c.type).join(', ')})`);
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      await this.#responder.present(host, challenge.token, keyAuthorization, authz);
      try {
        await this.#responder.precheck(host, challenge.token, keyAuthorization);
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      } finally {
        this.#responder.remove(host, challenge.token);
      }
    }
    const [keyPem, csr] = await acme.crypto.createCsr({ altNames: [host] }, await acme.crypto.createPrivateEcdsaKey());
    const finalized = await client.finalizeOrder(order, csr);
    const certPem = await client.getCertificate(finalized);
    return { certPem, keyPem: keyPem.toString() };
  }

  /** The account, made on first use (its key kept in storage; the CA answers an existing key with its account). */
  async #account(): Promise<acme.Client> {
    await configureHttp(this.config);
    let key = await this.#storage.accountKey();
    if (key === undefined) {
      key = (await acme.crypto.createPrivateEcdsaKey()).toString();
      await this.#storage.saveAccountKey(key);
    }
    const client = (this.#client ??= new acme.Client({ directoryUrl: this.config.directory, accountKey: key, backoffAttempts: 12, backoffMin: 250, backoffMax: 5000 }));
    // Every run: a CA that lost the account (a restarted test CA) makes it again for the same key.
    await client.createAccount({ termsOfServiceAgreed: true, ...(this.config.email === undefined ? {} : { contact: [`mailto:${this.config.email}`] }) });
    await this.#storage.saveAccountUrl(client.getAccountUrl());
    return client;
  }
}

/**
 * acme-client sends through one shared axios instance: its timeout, its retries of a failed
 * request (few and short: Baton retries whole orders with its own backoff) and, with `ca_file`,
 * the extra CA trusted for the directory. Baton has one ACME section, so one setting serves.
 */
async function configureHttp(config: AcmeConfig): Promise<void> {
  const defaults = acme.axios.defaults as typeof acme.axios.defaults & { acmeSettings?: { retryMaxAttempts: number; retryDefaultDelay: number } };
  defaults.timeout = REQUEST_TIMEOUT_MS;
  if (defaults.acmeSettings !== undefined) {
    defaults.acmeSettings.retryMaxAttempts = 2;
    defaults.acmeSettings.retryDefaultDelay = 1;
  }
  const ca = config.caFile === undefined ? undefined : await readFile(config.caFile, 'utf8');
  defaults.httpsAgent = new https.Agent({ keepAlive: false, ...(ca === undefined ? {} : { ca: [...tls.rootCertificates, ca] }) });
}

/** The CA's reason, or the network's, in one line. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string; response?: { status?: number } };
  const text = e.message.replace(/\s+/g, ' ').trim();
  return e.code !== undefined && !text.includes(e.code) ? `${text} (${e.code})` : text;
}
