/**
 * Answering ACME challenges, and Baton's own check of an answer before the CA is asked to
 * validate it. The check goes to Baton's own listener over loopback with the host name as
 * Host or SNI: it proves the answer is served, without asking DNS (public or not) where the
 * name points. That the name points at Baton is the CA's to find out.
 */
import http from 'node:http';
import tls from 'node:tls';
import acme from 'acme-client';
import type { AcmeChallenge } from '../config/tls-schema.js';
import type { CertificateStore } from './store.js';
import { ACME_HTTP_PREFIX, type HttpTokens } from './http-tokens.js';

export interface Address {
  host: string;
  port: number;
}

/** One way of answering a challenge: install, check, remove. */
export interface ChallengeResponder {
  readonly kind: AcmeChallenge;
  present(host: string, token: string, keyAuthorization: string, authz: acme.Authorization): Promise<void>;
  /** Rejects with the reason when Baton does not serve the answer. */
  precheck(host: string, token: string, keyAuthorization: string): Promise<void>;
  remove(host: string, token: string): void;
}

/** Where Baton listens, as a loopback client reaches it (0.0.0.0 -> 127.0.0.1, :: -> ::1). */
function reachable(at: Address): Address {
  if (at.host === '0.0.0.0') return { host: '127.0.0.1', port: at.port };
  if (at.host === '::') return { host: '::1', port: at.port };
  return at;
}

const PRECHECK_TIMEOUT_MS = 5000;

export class Http01Responder implements ChallengeResponder {
  readonly kind = 'http-01';
  readonly #tokens: HttpTokens;
  readonly #plain: () => Address;

  constructor(tokens: HttpTokens, plain: () => Address) {
    this.#tokens = tokens;
    this.#plain = plain;
  }

  async present(_host: string, token: string, keyAuthorization: string): Promise<void> {
    this.#tokens.set(token, keyAuthorization);
  }

  precheck(host: string, token: string, keyAuthorization: string): Promise<void> {
    const at = reachable(this.#plain());
    return new Promise((resolve, reject) => {
      const req = http.get({ host: at.host, port: at.port, path: ACME_HTTP_PREFIX + token, headers: { host }, timeout: PRECHECK_TIMEOUT_MS, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c.length + body.length > 4096 ? '' : c));
        res.on('end', () => {
          if (res.statusCode === 200 && body.trim() === keyAuthorization) resolve();
          else reject(new Error(`pre-check: http://${host}${ACME_HTTP_PREFIX}${token} on ${at.host}:${at.port} answered ${res.statusCode}, not the key authorization`));
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(new Error(`pre-check: ${at.host}:${at.port} (the plain listener) could not be reached: ${err.message}`)));
    });
  }

  remove(_host: string, token: string): void {
    this.#tokens.delete(token);
  }
}

export class TlsAlpn01Responder implements ChallengeResponder {
  readonly kind = 'tls-alpn-01';
  readonly #store: CertificateStore;
  readonly #tls: () => Address;

  constructor(store: CertificateStore, tlsAddress: () => Address) {
    this.#store = store;
    this.#tls = tlsAddress;
  }

  async present(host: string, _token: string, keyAuthorization: string, authz: acme.Authorization): Promise<void> {
    const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
    this.#store.setAlpnChallenge(host, tls.createSecureContext({ key, cert, minVersion: 'TLSv1.2' }));
  }

  precheck(host: string, _token: string, keyAuthorization: string): Promise<void> {
    const at = reachable(this.#tls());
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: at.host, port: at.port, servername: host, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false, timeout: PRECHECK_TIMEOUT_MS });
      socket.once('secureConnect', () => {
        const raw = socket.getPeerCertificate(false)?.raw;
        socket.destroy();
        const pem = raw === undefined ? '' : `-----BEGIN CERTIFICATE-----\n${raw.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
        if (socket.alpnProtocol !== 'acme-tls/1') return reject(new Error(`pre-check: ${at.host}:${at.port} did not choose acme-tls/1 for ${host}`));
        let ok = false;
        try {
          ok = pem !== '' && acme.crypto.isAlpnCertificateAuthorizationValid(pem, keyAuthorization);
        } catch {
          ok = false;
        }
        if (ok) resolve();
        else reject(new Error(`pre-check: the acme-tls/1 certificate served for ${host} does not carry the key authorization`));
      });
      socket.once('timeout', () => socket.destroy(new Error('timed out')));
      socket.once('error', (err) => reject(new Error(`pre-check: acme-tls/1 handshake with ${at.host}:${at.port} for ${host} failed: ${err.message}`)));
    });
  }

  remove(host: string): void {
    this.#store.setAlpnChallenge(host, undefined);
  }
}
