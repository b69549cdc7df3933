import http from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import { chmod, lstat, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import type { Logger } from 'pino';
import { BatonError, isBatonError, statusOf } from '../errors.js';
import { parseDuration } from '../config/duration.js';
import type { ControlApi, ErrorBody, SwapEvent, UpgradeDone } from './protocol.js';
import { parseLogsQuery, streamLogs } from './logs.js';
import type { NamedToken } from './token.js';
import type { Caller } from '../observe/history-entry.js';
import { isDashboardPath, serveObserve } from './observe-routes.js';

const MAX_BODY = 64 * 1024;
const MAX_MESSAGE = 2000;
const ROUTE = /^\/v1\/services\/([^/]+)\/(deploy|rollback|promote|pause|resume|notify|maintenance)$/;
const LOGS_ROUTE = /^\/v1\/services\/([^/]+)\/logs$/;

/**
 * The control API: HTTP/1.1 + JSON on a Unix socket created with mode 0600. Every bad input
 * gets the contract's error shape with a stable code; nothing a client sends can crash it.
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
  readonly #logStreams = new Map<AbortController, Promise<void>>();

  /**
   * `tcp`: an optional TCP listener (off by default) on which every request must carry
   * `Authorization: Bearer <token>`; the Unix socket relies on its file mode instead.
   */
  constructor(opts: { path: string; api: ControlApi; log: Logger; tcp?: { listen: { host: string; port: number }; token?: string; tokens?: NamedToken[] } }) {
    this.#api = opts.api;
    this.#path = opts.path;
    this.#log = opts.log;
    const serve = (req: http.IncomingMessage, res: http.ServerResponse, by: Caller): void => {
      this.#handle(req, res, by).catch((err: unknown) => {
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
      const expected = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
      this.#tcpListen = opts.tcp.listen;
      this.#tcp = http.createServer({ requestTimeout: 0, headersTimeout: 10_000 }, (req, res) => {
        const given = presentedToken(req.headers.authorization ?? '');
        // Compare digests in constant time, against every token: neither length nor which one leaks.
        let name: string | undefined;
        if (given !== '') {
          const d = digest(given);
          for (const e of expected) if (timingSafeEqual(d, e.digest)) name ??= e.name;
        }
        if (name === undefined) {
          req.resume();
          // A browser on the dashboard gets a Basic challenge (the token as the password).
          if (isDashboardPath(req.url ?? '/')) {
            res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Basic realm="baton", charset="UTF-8"' });
            res.end('401 the dashboard on the TCP control listener needs its token: any user name, the token as the password\n');
            return;
          }
          const text = JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'the TCP control listener requires "Authorization: Bearer <token>"' } }) + '\n';
          res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer', 'content-length': Buffer.byteLength(text) });
          res.end(text);
          return;
        }
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
      await prepareSocketPath(this.#path);
      // Bound under a temporary name, then renamed into place: a stale socket is replaced in
      // one step, and closing this server later does not remove the path (libuv unlinks the
      // name it bound), which after `baton upgrade` is the successor's.
      const bound = path.join(path.dirname(this.#path), `.${process.pid.toString(36)}~`);
      await unlink(bound).catch(() => {});
      // Create it 0600 from the start (umask), not chmod after: no window where others can connect.
      const oldMask = process.umask(0o177);
      try {
        await listenOn(this.#server, { path: bound });
      } finally {
        process.umask(oldMask);
      }
      await chmod(bound, 0o600);
      await rename(bound, this.#path);
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
    for (const left of this.#logStreams.keys()) left.abort();
    await Promise.race([Promise.all(this.#logStreams.values()), new Promise((r) => setTimeout(r, 1_000).unref())]);
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

  async #handle(req: http.IncomingMessage, res: http.ServerResponse, by: Caller): Promise<void> {
    const url = (req.url ?? '/').split('?')[0]!;
    // History, series, the event stream and the dashboard (issue 16): control/observe-routes.ts.
    if (serveObserve(req, res, url, this.#api)) return;
    if (url === '/v1/status') {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendJson(res, 200, this.#api.status());
    }
    if (url === '/v1/reload') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      req.resume();
      try {
        return sendJson(res, 200, await this.#api.reload(by));
      } catch (err) {
        return sendError(res, err);
      }
    }
    if (url === '/v1/upgrade') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      let readyTimeoutMs: number | undefined;
      try {
        const t = (await readJson(req)).timeout;
        if (t !== undefined && t !== null) {
          readyTimeoutMs = typeof t === 'string' ? parseDuration(t) : undefined;
          if (readyTimeoutMs === undefined || readyTimeoutMs <= 0) throw new BatonError('BAD_DURATION', `timeout: expected a duration like "60s", got ${JSON.stringify(t)}`);
        }
      } catch (err) {
        return sendError(res, err);
      }
      return this.#stream(res, (emit) => this.#api.upgrade(emit, readyTimeoutMs === undefined ? { by } : { readyTimeoutMs, by }));
    }
    if (url === '/metrics') {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      const m = await this.#api.metrics();
      res.writeHead(200, { 'content-type': m.contentType });
      res.end(m.body);
      return;
    }
    const logs = LOGS_ROUTE.exec(url);
    if (logs !== null) {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      return this.#logs(req, res, decodeURIComponent(logs[1]!));
    }
    const match = ROUTE.exec(url);
    if (match === null) return sendError(res, new BatonError('NOT_FOUND', `no such endpoint: ${req.method} ${url}`));
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    const service = decodeURIComponent(match[1]!);
    const action = match[2]!;
    let body: Record<string, unknown>;
    try {
      body = await readJson(req);
    } catch (err) {
      return sendError(res, err);
    }
    try {
      switch (action) {
        case 'deploy': {
          const version = body.version;
          if (typeof version !== 'string') throw new BatonError('BAD_REQUEST', 'body must be {"version": "<version>"}: "version" is missing or not a string');
          const canary = body.canary;
          if (canary !== undefined && canary !== null && typeof canary !== 'number') throw new BatonError('BAD_REQUEST', `"canary" must be a percentage from 1 to 99, got ${JSON.stringify(canary)}`);
          return await this.#stream(res, (emit) => this.#api.deploy(service, version, emit, typeof canary === 'number' ? { canary, by } : { by }));
        }
        case 'rollback':
          return await this.#stream(res, (emit) => this.#api.rollback(service, emit, by));
        case 'promote':
          return await this.#stream(res, (emit) => this.#api.promote(service, emit, by));
        case 'maintenance': {
          const on = body.on;
          if (typeof on !== 'boolean') throw new BatonError('BAD_REQUEST', 'body must be {"on": true|false, "message"?: "<text>"}: "on" is missing or not true/false');
          const message = body.message ?? '';
          if (typeof message !== 'string') throw new BatonError('BAD_REQUEST', '"message" must be a string');
          if (message.length > MAX_MESSAGE) throw new BatonError('BAD_REQUEST', `message is ${message.length} characters; at most ${MAX_MESSAGE}`);
          return sendJson(res, 200, await this.#api.maintenance(service, on, message, by));
        }
        case 'pause': {
          const t = body.timeout;
          let timeoutMs: number | undefined;
          if (t !== undefined && t !== null) {
            timeoutMs = typeof t === 'string' ? parseDuration(t) : undefined;
            if (timeoutMs === undefined || timeoutMs <= 0) throw new BatonError('BAD_DURATION', `timeout: expected a duration like "30s", got ${JSON.stringify(t)}`);
          }
          return sendJson(res, 200, this.#api.pause(service, timeoutMs, by));
        }
        case 'resume':
          return sendJson(res, 200, this.#api.resume(service, by));
        case 'notify': {
          const message = body.message;
          if (typeof message !== 'string' || message.length === 0) throw new BatonError('BAD_REQUEST', 'body must be {"message": "<text>"}: "message" is missing or empty');
          if (message.length > MAX_MESSAGE) throw new BatonError('BAD_REQUEST', `message is ${message.length} characters; at most ${MAX_MESSAGE}`);
          return sendJson(res, 200, this.#api.notify(service, message));
        }
      }
    } catch (err) {
      return sendError(res, err);
    }
  }

  /** NDJSON of the service's output; a bad query or unknown service is a plain error reply. */
  async #logs(req: http.IncomingMessage, res: http.ServerResponse, service: string): Promise<void> {
    let instances: () => ReturnType<ControlApi['instances']>;
    let query: ReturnType<typeof parseLogsQuery>;
    try {
      query = parseLogsQuery(new URL(req.url ?? '/', 'http://control').searchParams);
      this.#api.instances(service);
      instances = () => this.#api.instances(service);
    } catch (err) {
      return sendError(res, err);
    }
    const left = new AbortController();
    const resOnClose = (): void => left.abort();
    res.once('close', resOnClose);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    // Headers now, so a follow with nothing to say yet still tells the client it is connected.
    res.flushHeaders();
    const written = streamLogs(instances, query, left.signal, (r) => {
      if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify(r) + '\n');
    }).then(
      () =>
        new Promise<void>((resolve) => {
          res.removeListener('close', resOnClose);
          if (res.destroyed) return resolve();
          res.end(resolve);
        }),
    );
    this.#logStreams.set(left, written);
    await written;
    this.#logStreams.delete(left);
  }

  /** NDJSON stream of swap events; an error before the first event is a plain error reply. */
  async #stream<E extends object>(res: http.ServerResponse, run: (emit: (e: E) => void) => Promise<E | UpgradeDone>): Promise<void> {
    const emit = (e: E | SwapEvent): void => {
      if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      if (!res.destroyed) res.write(JSON.stringify(e) + '\n');
    };
    try {
      await run(emit);
      res.end();
    } catch (err) {
      if (!res.headersSent) return sendError(res, err);
      // Failed mid-stream (a fault, not an expected outcome): still end with a done event.
      const e = isBatonError(err) ? err : new BatonError('INTERNAL', (err as Error).message);
      emit({ done: true, ok: false, error: { ...e.toJSON(), step: 'stop', version: '' }, ms: 0 });
      res.end();
    }
  }
}

function listenOn(server: net.Server, at: { fd: number } | { path: string } | { port: number; host: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

async function prepareSocketPath(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (st.isSymbolicLink()) throw new BatonError('SOCKET_UNSAFE', `control socket ${path} is a symbolic link; refusing to use it`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new BatonError('SOCKET_UNSAFE', `control socket ${path} belongs to uid ${st.uid}, not to this user; refusing to use it`);
  if (!st.isSocket()) throw new BatonError('SOCKET_UNSAFE', `control socket path ${path} exists and is not a socket; refusing to replace it`);
  if (await answers(path)) throw new BatonError('SOCKET_UNSAFE', `another Baton is already listening on ${path}`);
  await unlink(path); // stale socket of a Baton that did not exit cleanly
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        // Answer first (the caller closes the connection after it); the rest is discarded.
        if (chunks.length > 0 || size - c.length <= MAX_BODY) reject(new BatonError('PAYLOAD_TOO_LARGE', `request body is over ${MAX_BODY} bytes`));
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) return;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        return reject(new BatonError('BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`));
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return reject(new BatonError('BAD_JSON', 'request body must be a JSON object'));
      resolve(parsed as Record<string, unknown>);
    });
  });
}

/** Malformed HTTP on the control socket still gets the contract's error shape. */
function clientOnError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const text = JSON.stringify({ error: { code: 'BAD_REQUEST', message: `malformed HTTP request (${err.code ?? err.message})` } }) + '\n';
  socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
}

/** The token of `Authorization: Bearer <token>`, or the password of `Basic` (a browser on the dashboard). */
function presentedToken(auth: string): string {
  if (auth.startsWith('Bearer ')) return auth.slice(7).trim();
  if (auth.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? '' : decoded.slice(colon + 1);
  }
  return '';
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  if (status === 413) res.shouldKeepAlive = false;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: unknown): void {
  const e = isBatonError(err) ? err : new BatonError('INTERNAL', err instanceof Error ? err.message : String(err));
  const body: ErrorBody = { error: e.toJSON() };
  sendJson(res, statusOf(e.code), body);
}

export function methodNotAllowed(res: http.ServerResponse, allow: string): void {
  const text = JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: `use ${allow}` } }) + '\n';
  res.writeHead(405, { 'content-type': 'application/json', allow, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
