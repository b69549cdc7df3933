/**
 * Keep-alive load for the Docker end-to-end tests: N clients, each sending GET / (the test
 * app answers {"version": ...}) and POST /echo with a random body (compared byte for byte),
 * one request after another, until stopped. Every request is recorded with its times.
 */

import { randomBytes } from 'node:crypto';
import http from 'node:http';

export interface LoadResult {
  ok: boolean;
  why?: string;
  version?: string;
  /** performance.now() at send and at the end of the answer (or the error). */
  start: number;
  end: number;
}

export class Load {
  readonly results: LoadResult[] = [];
  readonly #agent: http.Agent;
  readonly #clients: Promise<void>[];
  readonly #port: number;
  #running = true;

  /** Starts `clients` clients against 127.0.0.1:`port`; each stops by itself after `maxMs`. */
  constructor(port: number, clients = 32, maxMs = 120_000) {
    this.#port = port;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    const hardStop = performance.now() + maxMs;
    this.#clients = Array.from({ length: clients }, async (_, i) => {
      for (let n = 0; this.#running && performance.now() < hardStop; n++) {
        const result = await this.#once((n + i) % 2 === 0);
        this.results.push(result);
        // Nothing listening (Baton restarting): do not spin on ECONNREFUSED.
        if (!result.ok) await new Promise((r) => setTimeout(r, 10));
      }
    });
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#clients);
    this.#agent.destroy();
  }

  /** Failed requests, of those sent at or after `from` (performance.now()). */
  failures(from = -Infinity): LoadResult[] {
    return this.results.filter((r) => r.start >= from && !r.ok);
  }

  #once(post: boolean): Promise<LoadResult> {
    const start = performance.now();
    const body = post ? randomBytes(1 + Math.floor(Math.random() * 16 * 1024)) : undefined;
    return new Promise((resolve) => {
      const fail = (why: string): void => resolve({ ok: false, why, start, end: performance.now() });
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.#port,
          agent: this.#agent,
          method: post ? 'POST' : 'GET',
          path: post ? '/echo' : '/',
          headers: post ? { 'content-type': 'application/octet-stream', 'content-length': body!.length } : {},
          timeout: 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => fail(`response error ${err.message}`));
          res.on('end', () => {
            const got = Buffer.concat(chunks);
            if (res.statusCode !== 200) return fail(`status ${res.statusCode} ${got.toString().slice(0, 80)}`);
            if (post) {
              if (Buffer.compare(got, body!) !== 0) return fail(`echo differs (${got.length} vs ${body!.length} bytes)`);
              return resolve({ ok: true, start, end: performance.now() });
            }
            let version: unknown;
            try {
              version = (JSON.parse(got.toString()) as { version?: unknown }).version;
            } catch {
              return fail(`not JSON: ${got.toString().slice(0, 80)}`);
            }
            if (typeof version !== 'string') return fail(`no version in ${got.toString().slice(0, 80)}`);
            resolve({ ok: true, version, start, end: performance.now() });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
      req.on('error', (err: NodeJS.ErrnoException) => fail(`request error ${err.code ?? err.message}`));
      req.end(body);
    });
  }
}
