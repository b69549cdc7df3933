import http from 'node:http';
import { unlink } from 'node:fs/promises';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { ControlApi } from './protocol.js';
import type { NamedToken } from './token.js';
import type { Caller } from '../observe/history-entry.js';
import { refuseUnauthorized, TokenCheck } from './auth.js';
import { serveEndpoint } from './endpoints.js';
import { LogStreams } from './ndjson.js';
import { clientOnError, sendJson } from './reply.js';
import { listenOn, listenOnSocketFile, prepareSocketPath } from './socket-file.js';

/**
 * The control API: HTTP/1.1 + JSON on a Unix socket created with mode 0600. Every bad input
 * gets the contract's error shape with a stable code; nothing a client sends can crash it.
 * This class owns the listeners (listen, hand over, close); what each request does is
 * endpoints.ts, who may ask on TCP auth.ts, the socket file's safety socket-file.ts.
 */
export class ControlServer {
  readonly #server: http.Server;
  readonly #tcp: http.Server | undefined;
  readonly #tcpListen: { host: string; port: number } | undefined;
  readonly #api: ControlApi;
  readonly #path: string;
  readonly #log: Logger;
  /** Set once this server created the socket file: only then may close() remove it. */
  #created = false;
  /** Set by handOver(): resolves once the connections left have ended. */
  #handedOver: Promise<void> | undefined;
  /** Log streams being written: ended cleanly by close(), so a `logs -f` ends with exit 0. */
  readonly #logStreams = new LogStreams();

  /**
   * `tcp`: an optional TCP listener (off by default) on which every request must carry
   * `Authorization: Bearer <token>`; the Unix socket relies on its file mode instead.
   */
  constructor(opts: { path: string; api: ControlApi; log: Logger; tcp?: { listen: { host: string; port: number }; token?: string; tokens?: NamedToken[] } }) {
    this.#api = opts.api;
    this.#path = opts.path;
    this.#log = opts.log;
    const serve = (req: http.IncomingMessage, res: http.ServerResponse, by: Caller): void => {
      serveEndpoint(req, res, by, this.#api, this.#logStreams).catch((err: unknown) => {
        this.#log.error({ err }, 'control request failed');
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
        else res.end();
      });
    };
    const onSocket: Caller = { via: 'socket' };
    this.#server = http.createServer({ requestTimeout: 0, headersTimeout: 10_000 }, (req, res) => serve(req, res, onSocket));
    this.#server.on('clientError', clientOnError);
    if (opts.tcp !== undefined) {
      const tokens = [...(opts.tcp.tokens ?? []), ...(opts.tcp.token === undefined ? [] : [{ name: 'token', token: opts.tcp.token }])];
      const check = new TokenCheck(tokens);
      this.#tcpListen = opts.tcp.listen;
      this.#tcp = http.createServer({ requestTimeout: 0, headersTimeout: 10_000 }, (req, res) => {
        const name = check.nameOf(req);
        if (name === undefined) return refuseUnauthorized(req, res);
        serve(req, res, { via: 'tcp', token: name, address: req.socket.remoteAddress ?? '' });
      });
      this.#tcp.on('clientError', clientOnError);
    }
  }

  /** The bound TCP address, when the TCP listener is on. */
  tcpAddress(): { host: string; port: number } | undefined {
    const a = this.#tcp?.address();
    return typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : undefined;
  }

  /**
   * Fail early (before any app is started) if the socket path cannot be used: a symlink,
   * another user's file, or a live Baton already listening there.
   */
  check(): Promise<void> {
    return prepareSocketPath(this.#path);
  }

  /**
   * Create the socket: refuses a symlink or another user's file, replaces a stale socket.
   * `inherited`: the sockets a predecessor handed over (`baton upgrade`), accepted on as they are.
   */
  async listen(inherited: { control?: number; tcp?: number } = {}): Promise<void> {
    if (inherited.control !== undefined) {
      await listenOn(this.#server, { fd: inherited.control });
    } else {
      await listenOnSocketFile(this.#server, this.#path);
    }
    this.#created = true;
    if (this.#tcp !== undefined && this.#tcpListen !== undefined) {
      await listenOn(this.#tcp, inherited.tcp !== undefined ? { fd: inherited.tcp } : { port: this.#tcpListen.port, host: this.#tcpListen.host });
    }
  }

  /** The listening sockets, for a successor to take over. */
  listeners(): { control: net.Server; tcp?: net.Server } {
    return { control: this.#server, ...(this.#tcp?.listening === true ? { tcp: this.#tcp } : {}) };
  }

  /**
   * A successor accepts on these sockets now: stop accepting (the socket file stays, it is the
   * successor's), keep the connections open (the `upgrade` stream itself is one).
   */
  /** `kept: false`: the successor binds a socket of its own (the path moved), so close() removes this one. */
  handOver({ kept = true }: { kept?: boolean } = {}): void {
    if (kept) this.#created = false;
    const servers = [this.#server, this.#tcp].filter((s): s is http.Server => s?.listening === true);
    this.#handedOver = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {});
  }

  async close(): Promise<void> {
    await this.#logStreams.close(1_000);
    if (this.#handedOver !== undefined) {
      // Handed over: the answers being written (the upgrade's own stream) end first.
      await Promise.race([this.#handedOver, new Promise((r) => setTimeout(r, 2_000).unref())]);
      for (const s of [this.#server, this.#tcp]) s?.closeAllConnections();
      if (this.#created) await unlink(this.#path).catch(() => {});
      return;
    }
    await Promise.all(
      [this.#server, this.#tcp].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (server === undefined || !server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    if (this.#created) await unlink(this.#path).catch(() => {});
  }
}
