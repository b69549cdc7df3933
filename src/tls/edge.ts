/**
 * The TLS edge (issue 11): the TLS listener, the certificates it serves by SNI (static files
 * and ACME), session tickets, and what the edge adds to plain HTTP (ACME HTTP-01 answers, the
 * redirect to https). Connections whose ALPN chose `h2` go to the HTTP/2 side, the others to
 * Baton's HTTP/1.1 server marked secure; `acme-tls/1` handshakes only prove a TLS-ALPN-01
 * challenge and are closed.
 */
import net from 'node:net';
import tls from 'node:tls';
import { constants as cryptoConstants } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config, HostPort } from '../config/types.js';
import type { TlsConfig } from '../config/tls-schema.js';
import type { Downstream } from '../proxy/downstream.js';
import type { EdgeAnswer } from '../proxy/request-path.js';
import { loadStaticCertificates, TLS_PROTOCOLS, type ServedCertificate } from './certificate.js';
import { CertificateStore, type CertificateStatus } from './store.js';
import { TicketKeys } from './tickets.js';
// acme-client (and what it brings) is loaded only when `tls.acme` is configured.
import type { AcmeManager, AcmeStatus } from './acme.js';
import { HttpTokens } from './http-tokens.js';
import { HelloPeek, type HelloRouter } from './hello-peek.js';
import { acmeHosts } from './names.js';
import { answerPlain } from './plain-answers.js';
import { challengeServer } from './challenge-server.js';
import { LinkedSet } from '../linked-set.js';

/** Where secure connections go, by ALPN. */
export interface TlsHandlers {
  h1(socket: tls.TLSSocket): void;
  h2(socket: tls.TLSSocket): void;
}

export interface TlsStatus {
  listen: string;
  /** Connections open on the TLS listener now. */
  connections: number;
  redirect_http: boolean;
  certificates: CertificateStatus[];
  acme: AcmeStatus | null;
}

const ALPN = ['h2', 'http/1.1'];
/** What sessions are resumed within (see the constructor). */
const SESSION_ID_CONTEXT = 'baton';
/** A TLS handshake (and a ClientHello read for TLS-ALPN-01) must end within this. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class TlsEdge implements HelloRouter {
  readonly store = new CertificateStore();
  readonly tokens = new HttpTokens();
  readonly #log: Logger;
  #config: TlsConfig;
  readonly #server: tls.Server;
  #challengeServer: tls.Server | undefined;
  readonly #listener: net.Server;
  readonly #tickets: TicketKeys;
  #acme: AcmeManager | undefined;
  #bound: HostPort;
  #plain: HostPort = { host: '127.0.0.1', port: 80 };
  #handlers: TlsHandlers | undefined;
  /** Every accepted connection until it closes: closeAll() ends what TLS and HTTP/2 left open. */
  /** Not a Set: see linked-set.ts (a TLS connection per request would all be promoted). */
  readonly #sockets = new LinkedSet<net.Socket>();

  /**
   * Read the static certificates and the stored ACME ones; nothing listens yet.
   * @throws BatonError `CONFIG_INVALID` naming the file of a certificate or key that cannot be used.
   */
  static async create(config: Config, log: Logger): Promise<TlsEdge> {
    const t = config.tls!;
    const statics = await loadStaticCertificates(t.certificates);
    const edge = new TlsEdge(t, statics, log);
    await edge.#setAcme(t, config);
    return edge;
  }

  private constructor(config: TlsConfig, statics: ServedCertificate[], log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#bound = config.listen;
    this.store.setStatic(statics);
    const first = statics[0];
    this.#server = tls.createServer({
      ...TLS_PROTOCOLS,
      ...(first === undefined ? {} : { cert: first.certPem, key: first.keyPem }),
      ALPNProtocols: ALPN,
      SNICallback: this.#sni,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      // node:tls derives it from the command line by default; a session resumes only where it
      // matches, so the next process of `baton upgrade` (started with other arguments) needs the same.
      sessionIdContext: SESSION_ID_CONTEXT,
      ...ticketOptions(config),
    });
    this.#server.on('secureConnection', this.#serverOnSecureConnection);
    this.#server.on('tlsClientError', this.#serverOnClientError);
    this.#tickets = new TicketKeys(this.#server, config.sessionTickets.rotateMs);
    // Not half-open (unlike the plain listener): node:http2 would keep a session whose client
    // sent FIN open until its timeout, and TLS has close_notify for what half-close says in plain HTTP.
    this.#listener = net.createServer({ allowHalfOpen: false, noDelay: true }, this.#listenerOnConnection);
  }

  /** Where the TLS listener is bound (after listen). */
  get address(): HostPort {
    return this.#bound;
  }

  get config(): TlsConfig {
    return this.#config;
  }

  /**
   * Bind `tls.listen`, or take over `handle` (a listening socket handed over by the previous
   * process of a self-upgrade: a net.Server, or `{ fd }`); resolves with the bound address.
   * ACME starts once both listeners are bound (started()).
   */
  listen(handlers: TlsHandlers, handle?: net.Server | { fd: number }): Promise<HostPort> {
    this.#handlers = handlers;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#listener.once('error', onError);
      const where = handle ?? { host: this.#config.listen.host, port: this.#config.listen.port, backlog: 4096 };
      this.#listener.listen(where, () => {
        this.#listener.removeListener('error', onError);
        const a = this.#listener.address();
        if (typeof a === 'object' && a !== null) this.#bound = { host: a.address, port: a.port };
        this.#tickets.start();
        resolve(this.#bound);
      });
    });
  }

  /** The listening server (to hand to the next process of a self-upgrade: `child.send(msg, server)`). */
  get server(): net.Server {
    return this.#listener;
  }

  /** The plain listener is bound: HTTP-01 is answered (and pre-checked) there. Starts ACME. */
  started(plain: HostPort): void {
    this.#plain = plain;
    this.#acme?.start();
  }

  /** Resolves once the listener is closed and every connection it accepted has closed. */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => this.#listener.close(() => resolve()));
  }

  /** Cut every connection still open (after the HTTP/1.1 and HTTP/2 sides cut theirs). */
  closeAll(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.#tickets.stop();
    await this.#acme?.stop();
  }

  /** The session ticket keys in use (48 bytes), for the next Baton of a self-upgrade. */
  ticketKeys(): Buffer {
    return this.#tickets.export();
  }

  /** Install ticket keys from the previous Baton of a self-upgrade: its tickets resume here. */
  setTicketKeys(keys: Buffer): void {
    this.#tickets.import(keys);
  }

  /**
   * A reload, in two steps: `prepare` reads and checks everything (and throws CONFIG_INVALID,
   * changing nothing), the returned function applies it in place. Open connections keep the
   * certificate they were made with; new handshakes get the new ones.
   */
  async prepare(next: Config): Promise<() => Promise<void>> {
    const t = next.tls;
    if (t === undefined) return async () => {}; // removing TLS takes a restart (tls.listen in restart_required)
    const statics = await loadStaticCertificates(t.certificates);
    return async () => {
      this.#config = { ...t, listen: this.#config.listen };
      this.store.setStatic(statics);
      const first = statics[0];
      if (first !== undefined) {
        this.#server.setSecureContext({ ...TLS_PROTOCOLS, cert: first.certPem, key: first.keyPem, ticketKeys: this.#tickets.export(), sessionIdContext: SESSION_ID_CONTEXT, ...ticketOptions(t) });
        this.#tickets.install(); // on the new context
      }
      this.#tickets.setRotation(t.sessionTickets.rotateMs);
      await this.#setAcme(t, next);
      this.#log.info({ certificates: statics.length, acme_hosts: this.#acme === undefined ? 0 : Object.keys(this.#acme.status().hosts).length }, 'tls settings reloaded');
    };
  }

  status(): TlsStatus {
    const b = this.#bound;
    return {
      listen: b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`,
      connections: this.#sockets.size,
      redirect_http: this.#config.redirectHttp,
      certificates: this.store.status(),
      acme: this.#acme?.status() ?? null,
    };
  }

  // --- what the edge adds to plain HTTP (called by the request path) ----------------------------

  /** A request on the plain listener: answered here (plain-answers.ts), or not (undefined: the request path goes on). */
  plainRequest(req: Downstream): EdgeAnswer | undefined {
    return answerPlain(req, this.tokens, this.store, this.#config.redirectHttp, this.#bound.port);
  }

  // --- internals -------------------------------------------------------------------------------

  async #setAcme(t: TlsConfig, config: Config): Promise<void> {
    const a = t.acme;
    if (a === undefined) {
      await this.#acme?.stop();
      this.#acme = undefined;
      this.store.setManaged([]);
      return;
    }
    if (this.#acme !== undefined && JSON.stringify(this.#acme.config) !== JSON.stringify(a)) {
      await this.#acme.stop();
      this.#acme = undefined;
    }
    const wasRunning = this.#acme !== undefined || this.#handlers !== undefined;
    if (this.#acme === undefined) {
      const [{ AcmeManager }, { Http01Responder, TlsAlpn01Responder }] = await Promise.all([import('./acme.js'), import('./acme-challenges.js')]);
      const responder =
        a.challenge === 'http-01' ? new Http01Responder(this.tokens, () => this.#plain) : new TlsAlpn01Responder(this.store, () => this.#bound);
      this.#acme = new AcmeManager({ config: a, store: this.store, responder, log: this.#log });
    }
    await this.#acme.setHosts(acmeHosts(config, this.store));
    if (wasRunning) this.#acme.start();
  }

  #sni = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    const context = this.store.contextFor(servername);
    // node:tls keeps the default certificate for a context without one, so a refusal is an error: the connection closes.
    if (context === undefined) cb(new Error(`no certificate for ${JSON.stringify(servername)}`));
    else cb(null, context);
  };

  #listenerOnConnection = (socket: net.Socket): void => {
    this.#sockets.add(socket);
    (socket as EdgeSocket)[kSockets] = this.#sockets;
    socket.on('close', socketOnClose);
    // Only while a TLS-ALPN-01 challenge is pending is the ClientHello read first (to see acme-tls/1).
    if (!this.store.alpnPending) return void this.#server.emit('connection', socket);
    new HelloPeek(socket, this, HANDSHAKE_TIMEOUT_MS).start();
  };

  /** From HelloPeek: where a connection goes once its ClientHello was read. */
  route(socket: net.Socket, acmeTls: boolean): void {
    if (!acmeTls) return void this.#server.emit('connection', socket);
    this.#challengeServer ??= challengeServer(this.store, HANDSHAKE_TIMEOUT_MS);
    this.#challengeServer.emit('connection', socket);
  }

  #serverOnSecureConnection = (socket: tls.TLSSocket): void => {
    const h = this.#handlers;
    if (h === undefined) return void socket.destroy();
    if (socket.alpnProtocol === 'h2') h.h2(socket);
    else h.h1(socket);
  };

  #serverOnClientError = (err: NodeJS.ErrnoException, socket: tls.TLSSocket): void => {
    this.#log.debug({ code: err.code, reason: err.message, servername: (socket as { servername?: string }).servername }, 'tls handshake failed');
    socket.destroy();
  };
}

/** Where an accepted socket is kept until it closes: one shared 'close' listener, no closure per connection. */
const kSockets = Symbol('baton.tls-edge-sockets');
type EdgeSocket = net.Socket & { [kSockets]?: LinkedSet<net.Socket> };

function socketOnClose(this: EdgeSocket): void {
  this[kSockets]?.delete(this);
}

/** Tickets off: node:tls's secure options say so (on the first context and on every one a reload makes). */
function ticketOptions(config: TlsConfig): tls.SecureContextOptions {
  return config.sessionTickets.enabled ? {} : { secureOptions: cryptoConstants.SSL_OP_NO_TICKET };
}
