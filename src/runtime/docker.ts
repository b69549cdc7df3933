/**
 * The Docker runtime: one labelled container per version of a service. Containers outlive
 * Baton (`survivesBaton`), so `findRunning` finds them again by label and the next
 * `baton start` adopts them instead of restarting them; `removeStale` clears the others.
 *
 * The engine is reached through an injected Dockerode (built by the caller from DOCKER_HOST or
 * the local socket, with no pinned API version, so the engine's own version is used). Every
 * short call carries a timeout; the long-lived ones (wait, log stream) end with the container
 * or with `close()`.
 *
 *   docker-engine.ts    labels, call timeouts, engine errors, stop-and-remove
 *   docker-image.ts     image policy: local first, pull when missing
 *   docker-instance.ts  one container: exit, HEALTHCHECK, stop
 *   docker-logs.ts      its output, demultiplexed into lines
 */

import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/types.js';
import { BatonError } from '../errors.js';
import { API_TIMEOUT_MS, LABELS, callSignal, containerName, createdNs, messageOf, statusCodeOf, stopAndRemove, throwIfAborted } from './docker-engine.js';
import { ensureImage } from './docker-image.js';
import { DockerInstance, type DockerInstanceOptions } from './docker-instance.js';
import type { Instance, RunOnceOptions, RunOnceResult, Runtime, StartOptions } from './runtime.js';
import { runContainerOnce } from './docker-one-off.js';

export { LABELS } from './docker-engine.js';
export { DockerInstance } from './docker-instance.js';

export interface DockerRuntimeOptions {
  service: ServiceConfig;
  docker: Dockerode;
  log: Logger;
  /** A free port on 127.0.0.1, for apps on the host network. */
  pickPort: () => Promise<number>;
}

export class DockerRuntime implements Runtime {
  readonly kind = 'docker' as const;
  #service: ServiceConfig;
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

  reconfigure(service: ServiceConfig): void {
    this.#service = service;
  }

  async start({ version, signal }: StartOptions): Promise<Instance> {
    const cfg = this.#service.docker;
    const image = cfg.image.replaceAll('{version}', version);
    const context = { service: this.#service.name, version, image };
    await ensureImage(this.#docker, image, this.#log, signal);
    throwIfAborted(signal, context);

    const hostNetwork = cfg.network === 'host';
    const port = hostNetwork ? await this.#pickPort() : cfg.port;
    const env: Record<string, string> = {
      ...cfg.env,
      PORT: String(port),
      // On a named network Baton reaches the container's own address, so the app must not bind loopback.
      HOST: hostNetwork ? '127.0.0.1' : '0.0.0.0',
      BATON_VERSION: version,
      BATON_SERVICE: this.#service.name,
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

  /** A migration in a one-off container of the version's image. */
  runOnce(opts: RunOnceOptions): Promise<RunOnceResult> {
    return runContainerOnce(this.#docker, this.#service, opts, this.#log.child({ version: opts.version, one_off: 'migrate' }));
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

  async #addressOn(container: Dockerode.Container, network: string): Promise<string> {
    const info = await container.inspect({ abortSignal: callSignal(API_TIMEOUT_MS) });
    const address = info.NetworkSettings.Networks[network]?.IPAddress;
    if (!address) throw new BatonError('START_FAILED', `container has no address on network ${network}`, { details: { network } });
    return address;
  }
}
