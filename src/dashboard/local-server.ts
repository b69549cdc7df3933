/**
 * `baton dashboard`'s server (issue 16): the dashboard on 127.0.0.1 at a random port, for one
 * browser. The printed URL carries a one-time token; the first request with it gets a session
 * cookie (HttpOnly, SameSite=Strict) and is redirected to the same page without the token, so
 * the token is spent and stays out of the browser's history. Every request must then carry the
 * cookie and name this server in Host (no DNS rebinding), and only GET and HEAD under
 * /dashboard/ are passed on, to the control API of the running Baton: the page can read, never
 * change, and nothing else of the control API is reachable through this port.
 */
import http from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ControlTarget } from '../cli/client.js';

const PREFIX = '/dashboard/';
const COOKIE = 'baton_dashboard';
/** Request fields passed on to the control API; everything else stays here. */
const PASSED = ['accept', 'if-none-match', 'cache-control', 'last-event-id'];
/** Answer fields passed back. */
const RETURNED = ['content-type', 'content-length', 'cache-control', 'etag', 'location', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options', 'x-accel-buffering', 'allow'];

export interface LocalDashboardOptions {
  target: ControlTarget;
  /** The one-time token (random when not given: tests give their own). */
  token?: string;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class LocalDashboard {
  readonly #target: ControlTarget;
  readonly #server: http.Server;
  #token: string | undefined;
  readonly #sessions = new Set<string>();
  #port = 0;

  constructor(opts: LocalDashboardOptions) {
    this.#target = opts.target;
    this.#token = opts.token ?? randomBytes(24).toString('base64url');
    this.#server = http.createServer({ headersTimeout: 10_000, requestTimeout: 0 }, (req, res) => this.#handle(req, res));
  }

  /** Listen on 127.0.0.1 at a free port; resolves with the URL to open (token included). */
  listen(): Promise<string> {
    const token = this.#token!;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.removeListener('error', reject);
        const a = this.#server.address();
        this.#port = typeof a === 'object' && a !== null ? a.port : 0;
        resolve(`http://127.0.0.1:${this.#port}${PREFIX}?token=${token}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${this.#port}` && host !== `localhost:${this.#port}`) return text(res, 421, 'this dashboard answers only to the address it printed\n');
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/' || url.pathname === '/dashboard') {
      res.writeHead(308, { location: `${PREFIX}${url.search}` });
      res.end();
      return;
    }
    if (!url.pathname.startsWith(PREFIX)) return text(res, 404, '404 not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return text(res, 405, 'the dashboard is read only\n');
    }
    const given = url.searchParams.get('token');
    if (given !== null && this.#token !== undefined && same(given, this.#token)) {
      // Spent: the link works once; the cookie carries the session from now on.
      this.#token = undefined;
      const session = randomBytes(32).toString('base64url');
      this.#sessions.add(session);
      url.searchParams.delete('token');
      res.writeHead(303, { location: url.pathname + url.search, 'set-cookie': `${COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/dashboard/`, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const session = cookieOf(req.headers.cookie ?? '', COOKIE);
    if (session === undefined || !this.#sessions.has(session)) return text(res, 401, 'this link was used already or is not this dashboard\'s: run "baton dashboard" again for a new one\n');
    this.#pass(req, res, url);
  }

  /** The same GET to the control API; its answer, streams included, goes back as it comes. */
  #pass(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const t = this.#target;
    const headers: http.OutgoingHttpHeaders = {};
    for (const name of PASSED) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
    if (t.kind === 'tcp') headers.authorization = `Bearer ${t.token}`;
    const where: http.RequestOptions = t.kind === 'socket' ? { socketPath: t.path } : { host: t.url.hostname.replace(/^\[|\]$/g, ''), port: Number(t.url.port || 80) };
    const up = http.request({ ...where, method: req.method, path: url.pathname + url.search, headers, agent: false }, (answer) => {
      const back: http.OutgoingHttpHeaders = {};
      for (const name of RETURNED) if (answer.headers[name] !== undefined) back[name] = answer.headers[name];
      res.writeHead(answer.statusCode ?? 502, back);
      res.flushHeaders();
      answer.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) text(res, 502, 'Baton did not answer on its control socket\n');
      else res.destroy();
    });
    res.once('close', () => up.destroy());
    up.end();
  }
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function cookieOf(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
