/**
 * One container of a service, as the swap sees it: where to reach it, when it exits (with
 * its code and last output lines), its Docker HEALTHCHECK, and a stop that ends in removal.
 * Its exit and output are followed from the moment it is made; `detach` lets go of both
 * without touching the container.
 */

import type { IncomingMessage } from 'node:http';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { BatonError } from '../errors.js';
import { API_TIMEOUT_MS, callSignal, delay, messageOf, statusCodeOf, stopAndRemove } from './docker-engine.js';
import { followLogs, readLogs } from './docker-logs.js';
import type { ExitInfo, Instance, LogsOptions, OutputLine } from './runtime.js';

const OUTPUT_LINES = 20;
const WAIT_RETRY_MAX_MS = 10_000;

export interface DockerInstanceOptions {
  container: Dockerode.Container;
  docker: Dockerode;
  log: Logger;
  version: string;
  host: string;
  port: number;
  /** Adopted from an earlier Baton: its old output is kept for `recentOutput` but not logged again. */
  adopted: boolean;
  /** Aborted when the runtime closes (Baton exits, leaving the container running). */
  closed: AbortSignal;
}

export class DockerInstance implements Instance {
  readonly version: string;
  readonly host: string;
  readonly port: number;
  readonly id: string;
  readonly exited: Promise<ExitInfo>;
  readonly survivesBaton = true;
  readonly #container: Dockerode.Container;
  readonly #modem: Dockerode['modem'];
  readonly #log: Logger;
  readonly #output: string[] = [];
  readonly #detached = new AbortController();
  readonly #signal: AbortSignal;
  #settleExit!: (info: ExitInfo) => void;
  #exit: ExitInfo | undefined;
  #stopping: Promise<void> | undefined;

  constructor(opts: DockerInstanceOptions) {
    this.#container = opts.container;
    this.#modem = opts.docker.modem;
    this.version = opts.version;
    this.host = opts.host;
    this.port = opts.port;
    this.id = opts.container.id;
    this.#log = opts.log.child({ version: opts.version });
    this.#signal = AbortSignal.any([opts.closed, this.#detached.signal]);
    let settled = false;
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.#settleExit = (info) => {
        if (settled) return;
        settled = true;
        this.#exit = info;
        resolve(info);
      };
    });
    const logsEnded = followLogs({
      container: this.#container,
      modem: this.#modem,
      adopted: opts.adopted,
      tail: OUTPUT_LINES,
      signal: this.#signal,
      log: this.#log,
      onLine: (line) => {
        this.#output.push(line);
        if (this.#output.length > OUTPUT_LINES) this.#output.shift();
      },
    });
    void this.#waitForExit(logsEnded);
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  recentOutput(): string[] {
    return [...this.#output];
  }

  logs(opts: LogsOptions, onLine: (line: OutputLine) => void): Promise<void> {
    return readLogs(this.#container, this.#modem, { ...opts, signal: AbortSignal.any([opts.signal, this.#signal]) }, onLine);
  }

  async nativeHealth(): Promise<'healthy' | 'unhealthy' | 'starting' | 'none'> {
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await this.#container.inspect({ abortSignal: callSignal(API_TIMEOUT_MS) });
    } catch (err) {
      if (statusCodeOf(err) === 404) return 'unhealthy'; // gone: it will never be healthy
      throw new BatonError('INTERNAL', `could not inspect container ${this.id.slice(0, 12)}: ${messageOf(err)}`, { cause: err });
    }
    const status = info.State.Health?.Status;
    if (status === 'healthy' || status === 'unhealthy' || status === 'starting') return status;
    return 'none';
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs).catch((err: unknown) => {
      this.#stopping = undefined; // a fault (engine unreachable) may be retried
      throw err;
    });
    return this.#stopping;
  }

  /** Stops following this container without touching it. */
  detach(): void {
    this.#detached.abort();
  }

  async #stop(graceMs: number): Promise<void> {
    await stopAndRemove(this.#container, graceMs);
    // The wait answer normally lands first; do not let a lost one keep `exited` pending forever.
    await Promise.race([this.exited, delay(2_000)]);
    this.#settleExit({ code: null, signal: null });
    this.#log.info({ id: this.id.slice(0, 12) }, 'container stopped');
    this.detach();
  }

  async #waitForExit(logsEnded: Promise<void>): Promise<void> {
    for (let attempt = 0; !this.#signal.aborted; attempt++) {
      try {
        // 'not-running' answers at once for a container that already exited (an instant crash).
        const result = await this.#waitOnce();
        // Let the last lines (a crash's reason) reach recentOutput before anyone reads it.
        await Promise.race([logsEnded, delay(1_000)]);
        this.#settleExit({ code: typeof result.StatusCode === 'number' ? result.StatusCode : null, signal: null });
        return;
      } catch (err) {
        if (this.#signal.aborted) return;
        if (statusCodeOf(err) === 404) {
          this.#settleExit({ code: null, signal: null });
          return;
        }
        // The engine restarted or the socket broke: ask again rather than report a false exit.
        this.#log.warn({ err: messageOf(err), attempt }, 'container wait failed; retrying');
        await delay(Math.min(250 * 2 ** attempt, WAIT_RETRY_MAX_MS), this.#signal);
      }
    }
  }

  /**
   * One `POST /containers/{id}/wait`, dialled as a stream so its socket can be unref'd: a
   * container left running must not keep Baton's process alive after it closed everything else.
   */
  #waitOnce(): Promise<{ StatusCode?: number }> {
    return new Promise((resolve, reject) => {
      this.#modem.dial(
        {
          path: `/containers/${this.id}/wait?`,
          method: 'POST',
          isStream: true,
          abortSignal: this.#signal,
          statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
          options: { condition: 'not-running' },
        },
        (err, result) => {
          if (err) return reject(err);
          const res = result as IncomingMessage;
          res.socket?.unref();
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.once('error', reject);
          res.once('close', () => {
            if (!res.complete) return reject(new Error('container wait ended early'));
            try {
              resolve(JSON.parse(body) as { StatusCode?: number });
            } catch (parseErr) {
              reject(parseErr);
            }
          });
        },
      );
    });
  }
}
