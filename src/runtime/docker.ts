/**
 * The Docker runtime: one labelled container per version of a service. Containers outlive
 * Baton (`survivesBaton`), so `findRunning` finds them again by label and the next
 * `baton start` adopts them instead of restarting them.
 *
 * The engine is reached through an injected Dockerode (built by the caller from DOCKER_HOST or
 * the local socket, with no pinned API version, so the engine's own version is used). Every
 * short call carries a timeout; the long-lived ones (wait, log stream) end with the container
 * or with `close()`.
 */

import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/types.js';
import { BatonError } from '../errors.js';
import type { ExitInfo, Instance, Runtime, StartOptions } from './runtime.js';

/** Labels Baton puts on the containers it starts; `findRunning` selects by the first two. */
export const LABELS = {
  managed: 'baton.managed',
  service: 'baton.service',
  version: 'baton.version',
  port: 'baton.port',
  network: 'baton.network',
} as const;

const API_TIMEOUT_MS = 30_000;
const PULL_TIMEOUT_MS = 10 * 60_000;
const OUTPUT_LINES = 20;
const WAIT_RETRY_MAX_MS = 10_000;

export interface DockerRuntimeOptions {
  service: ServiceConfig;
  docker: Dockerode;
  log: Logger;
  /** A free port on 127.0.0.1, for apps on the host network. */
  pickPort: () => Promise<number>;
}

type NativeHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export class DockerRuntime implements Runtime {
  readonly kind = 'docker' as const;
  readonly #service: ServiceConfig;
  readonly #docker: Dockerode;
  readonly #log: Logger;
  readonly #pickPort: () => Promise<number>;
  /** Aborts every wait and log stream of the instances made here (see `close`). */
  readonly #closed = new AbortController();

  constructor(opts: DockerRuntimeOptions) {
    this.#service = opts.service;
    this.#docker = opts.docker;
    // The caller's logger is often already a child bound to the service: do not bind it twice.
    const bound = 'service' in opts.log.bindings();
    this.#log = opts.log.child(bound ? { runtime: 'docker' } : { service: opts.service.name, runtime: 'docker' });
    this.#pickPort = opts.pickPort;
  }

  async start({ version, signal }: StartOptions): Promise<Instance> {
    const cfg = this.#service.docker;
    const image = cfg.image.replaceAll('{version}', version);
    const context = { service: this.#service.name, version, image };
    await this.#ensureImage(image, signal);
    throwIfAborted(signal, context);

    const hostNetwork = cfg.network === 'host';
    const port = hostNetwork ? await this.#pickPort() : cfg.port;
    const env: Record<string, string> = {
      ...cfg.env,
      PORT: String(port),
      // On a named network Baton reaches the container's own address, so the app must not bind loopback.
      HOST: hostNetwork ? '127.0.0.1' : '0.0.0.0',
      BATON_VERSION: version,
    };
    let container: Dockerode.Container;
    try {
      container = await this.#docker.createContainer({
        name: containerName(this.#service.name, version),
        Image: image,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: {
          [LABELS.managed]: 'true',
          [LABELS.service]: this.#service.name,
          [LABELS.version]: version,
          [LABELS.port]: String(port),
          [LABELS.network]: cfg.network,
        },
        HostConfig: { NetworkMode: cfg.network },
        abortSignal: callSignal(API_TIMEOUT_MS, signal),
      });
    } catch (err) {
      throwIfAborted(signal, context);
      throw new BatonError('START_FAILED', `could not create a container of ${image}: ${messageOf(err)}`, {
        cause: err,
        details: context,
      });
    }

    try {
      await container.start({ abortSignal: callSignal(API_TIMEOUT_MS, signal) });
      throwIfAborted(signal, context);
      const host = hostNetwork ? '127.0.0.1' : await this.#addressOn(container, cfg.network);
      this.#log.info({ version, image, id: container.id.slice(0, 12), host, port }, 'container started');
      return this.#instance(container, { version, host, port, adopted: false });
    } catch (err) {
      await container.remove({ force: true, abortSignal: callSignal(API_TIMEOUT_MS) }).catch(() => undefined);
      if (err instanceof BatonError) throw err;
      throwIfAborted(signal, context);
      throw new BatonError('START_FAILED', `could not start a container of ${image}: ${messageOf(err)}`, {
        cause: err,
        details: context,
      });
    }
  }

  async findRunning(): Promise<Instance[]> {
    const found = await this.#listManaged(false);
    const instances: { created: bigint; instance: Instance }[] = [];
    for (const info of found) {
      const labels = info.Config.Labels ?? {};
      const version = labels[LABELS.version];
      const port = Number(labels[LABELS.port]);
      if (version === undefined || !Number.isInteger(port) || port <= 0) {
        this.#log.warn({ id: info.Id.slice(0, 12) }, 'labelled container skipped: no version or port label');
        continue;
      }
      const network = labels[LABELS.network] ?? info.HostConfig.NetworkMode ?? 'host';
      const host = network === 'host' ? '127.0.0.1' : info.NetworkSettings.Networks[network]?.IPAddress;
      if (!host) {
        this.#log.warn({ id: info.Id.slice(0, 12), network }, 'labelled container skipped: no address on its network');
        continue;
      }
      const instance = this.#instance(this.#docker.getContainer(info.Id), { version, host, port, adopted: true });
      instances.push({ created: createdNs(info.Created), instance });
    }
    instances.sort((a, b) => (a.created === b.created ? 0 : a.created > b.created ? -1 : 1));
    return instances.map((i) => i.instance);
  }

  /**
   * Stops and removes every container of this service that Baton labelled, running or not,
   * except `keep`. For `baton start` after adopting one, and for leftovers of failed deploys.
   * Resolves with the ids removed.
   */
  async removeStale(keep: Instance | readonly Instance[] | undefined, graceMs = 10_000): Promise<string[]> {
    const kept = new Set((keep === undefined ? [] : Array.isArray(keep) ? keep : [keep as Instance]).map((i) => i.id));
    const stale = (await this.#listManaged(true)).filter((info) => !kept.has(info.Id));
    await Promise.all(stale.map((info) => stopAndRemove(this.#docker.getContainer(info.Id), graceMs)));
    if (stale.length > 0) this.#log.info({ ids: stale.map((i) => i.Id.slice(0, 12)) }, 'stale containers removed');
    return stale.map((i) => i.Id);
  }

  /** Lets go of every wait and log stream, leaving the containers running (Baton is exiting). */
  close(): void {
    this.#closed.abort();
  }

  #instance(container: Dockerode.Container, at: Pick<DockerInstanceOptions, 'version' | 'host' | 'port' | 'adopted'>): DockerInstance {
    return new DockerInstance({ ...at, container, docker: this.#docker, log: this.#log, closed: this.#closed.signal });
  }

  async #listManaged(all: boolean): Promise<Dockerode.ContainerInspectInfo[]> {
    const list = await this.#docker.listContainers({
      all,
      filters: { label: [`${LABELS.managed}=true`, `${LABELS.service}=${this.#service.name}`] },
      abortSignal: callSignal(API_TIMEOUT_MS),
    });
    const infos = await Promise.all(
      list.map((c) =>
        this.#docker
          .getContainer(c.Id)
          .inspect({ abortSignal: callSignal(API_TIMEOUT_MS) })
          .catch((err: unknown) => {
            if (statusCodeOf(err) === 404) return undefined; // removed since the listing
            throw err;
          }),
      ),
    );
    return infos.filter((i): i is Dockerode.ContainerInspectInfo => i !== undefined && (all || i.State.Running));
  }

  async #ensureImage(image: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      // Image.inspect takes no AbortSignal: race it instead.
      await raceSignal(this.#docker.getImage(image).inspect(), callSignal(API_TIMEOUT_MS, signal));
      return;
    } catch (err) {
      if (statusCodeOf(err) !== 404) {
        throwIfAborted(signal, { image });
        throw new BatonError('START_FAILED', `could not inspect image ${image}: ${messageOf(err)}`, {
          cause: err,
          details: { image },
        });
      }
    }
    this.#log.info({ image }, 'image pull started');
    try {
      await this.#pull(image, callSignal(PULL_TIMEOUT_MS, signal));
    } catch (err) {
      throwIfAborted(signal, { image });
      throw new BatonError('IMAGE_NOT_FOUND', `image ${image} is not present and could not be pulled: ${messageOf(err)}`, {
        cause: err,
        details: { image },
      });
    }
    this.#log.info({ image }, 'image pulled');
  }

  async #pull(image: string, signal: AbortSignal): Promise<void> {
    const stream = await this.#docker.pull(image, { abortSignal: signal });
    await new Promise<void>((resolve, reject) => {
      const onProgress = (event: { status?: string; id?: string; error?: string; progress?: string }): void => {
        // Per-layer byte counts are noise at info level; layer and image milestones are not.
        const level = event.progress !== undefined ? 'debug' : 'info';
        this.#log[level]({ image, layer: event.id, progress: event.progress }, `pull: ${event.status ?? event.error ?? ''}`);
      };
      const onFinished = (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]): void => {
        // An error met after the pull began arrives as an event, not as `err`.
        const failed = output.find((e) => e.error !== undefined || e.errorDetail !== undefined);
        if (err) reject(err);
        else if (failed) reject(new Error(failed.error ?? failed.errorDetail?.message ?? 'pull failed'));
        else resolve();
      };
      this.#docker.modem.followProgress(stream, onFinished, onProgress);
    });
  }

  async #addressOn(container: Dockerode.Container, network: string): Promise<string> {
    const info = await container.inspect({ abortSignal: callSignal(API_TIMEOUT_MS) });
    const address = info.NetworkSettings.Networks[network]?.IPAddress;
    if (!address) throw new BatonError('START_FAILED', `container has no address on network ${network}`, { details: { network } });
    return address;
  }
}

interface DockerInstanceOptions {
  container: Dockerode.Container;
  docker: Dockerode;
  log: Logger;
  version: string;
  host: string;
  port: number;
  /** Adopted from an earlier Baton: its old output is kept for `recentOutput` but not logged again. */
  adopted: boolean;
  closed: AbortSignal;
}

/** One container. Its exit and output are followed from the moment it is made. */
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
        resolve(info);
      };
    });
    const logsEnded = this.#followLogs(opts.adopted);
    void this.#waitForExit(logsEnded);
  }

  recentOutput(): string[] {
    return [...this.#output];
  }

  async nativeHealth(): Promise<NativeHealth> {
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

  /** Resolves when the log stream has ended and its last line is in the ring. */
  async #followLogs(adopted: boolean): Promise<void> {
    const loggedFrom = adopted ? Date.now() : 0;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.#container.logs({
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        ...(adopted ? { tail: OUTPUT_LINES } : {}),
        abortSignal: this.#signal,
      });
    } catch (err) {
      if (!this.#signal.aborted) this.#log.warn({ err: messageOf(err) }, 'container logs unavailable');
      return;
    }
    (stream as Partial<IncomingMessage>).socket?.unref(); // see #waitOnce
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const ended = Promise.all([
      this.#splitLines(stdout, 'stdout', loggedFrom),
      this.#splitLines(stderr, 'stderr', loggedFrom),
    ]);
    this.#modem.demuxStream(stream, stdout, stderr);
    const streamOnEnd = (): void => {
      stream.removeListener('error', streamOnEnd);
      stdout.end();
      stderr.end();
    };
    stream.once('end', streamOnEnd);
    stream.once('close', streamOnEnd);
    stream.once('error', streamOnEnd);
    await ended;
  }

  /** Feeds `source` line by line into the ring and the log; resolves at its end. */
  #splitLines(source: PassThrough, name: 'stdout' | 'stderr', loggedFrom: number): Promise<void> {
    const decoder = new StringDecoder('utf8');
    let partial = '';
    const emit = (raw: string): void => {
      const { at, line } = stripTimestamp(raw.replace(/\r$/, ''));
      this.#output.push(line);
      if (this.#output.length > OUTPUT_LINES) this.#output.shift();
      if (at >= loggedFrom) this.#log.info({ stream: name }, line);
    };
    source.on('data', (chunk: Buffer) => {
      const lines = (partial + decoder.write(chunk)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) emit(line);
    });
    return new Promise((resolve) => {
      source.once('end', () => {
        const rest = partial + decoder.end();
        if (rest !== '') emit(rest);
        resolve();
      });
    });
  }
}

/** Docker stop (SIGTERM, then SIGKILL after the grace) and remove; already stopped or gone is success. */
async function stopAndRemove(container: Dockerode.Container, graceMs: number): Promise<void> {
  const t = Math.max(0, Math.ceil(graceMs / 1000));
  try {
    await container.stop({ t, abortSignal: callSignal(t * 1000 + API_TIMEOUT_MS) });
  } catch (err) {
    const code = statusCodeOf(err);
    if (code !== 304 && code !== 404) throw stopError(container, err);
  }
  try {
    await container.remove({ force: true, abortSignal: callSignal(API_TIMEOUT_MS) });
  } catch (err) {
    const code = statusCodeOf(err);
    // 409: a removal is already in progress (a concurrent stop of the same container).
    if (code !== 404 && code !== 409) throw stopError(container, err);
  }
}

function stopError(container: Dockerode.Container, err: unknown): BatonError {
  return new BatonError('INTERNAL', `could not stop container ${container.id.slice(0, 12)}: ${messageOf(err)}`, { cause: err });
}

/** `baton-<service>-<version>-<6 hex>`, with characters Docker refuses in names replaced. */
function containerName(service: string, version: string): string {
  const safe = (s: string): string => s.replace(/[^a-zA-Z0-9_.-]/g, '-');
  return `baton-${safe(service)}-${safe(version)}-${randomBytes(3).toString('hex')}`;
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) /;

function stripTimestamp(raw: string): { at: number; line: string } {
  const match = TIMESTAMP.exec(raw);
  if (!match?.[1]) return { at: Number.POSITIVE_INFINITY, line: raw };
  return { at: Date.parse(match[1]), line: raw.slice(match[0].length) };
}

/** Nanoseconds since the epoch of an RFC 3339 time with up to 9 fractional digits, for ordering. */
function createdNs(created: string): bigint {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(created);
  if (!match?.[1]) return 0n;
  const seconds = BigInt(Math.floor(Date.parse(`${match[1]}${match[3]}`) / 1000));
  return seconds * 1_000_000_000n + BigInt((match[2] ?? '').padEnd(9, '0').slice(0, 9));
}

function callSignal(ms: number, outer?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return outer ? AbortSignal.any([outer, timeout]) : timeout;
}

function throwIfAborted(signal: AbortSignal | undefined, details: Record<string, unknown>): void {
  if (signal?.aborted) throw new BatonError('ABORTED', 'start was aborted', { cause: signal.reason, details });
}

function statusCodeOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The engine's own message when it sent one, without docker-modem's "(HTTP code 500) server error - ". */
function messageOf(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message.trim();
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const signalOnAbort = (): void => reject(signal.reason);
    if (signal.aborted) return signalOnAbort();
    signal.addEventListener('abort', signalOnAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', signalOnAbort));
  });
}

/** A pause that never keeps the process alive by itself (Baton may be exiting meanwhile). */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms).unref();
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
