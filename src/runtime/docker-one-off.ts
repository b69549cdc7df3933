/**
 * A command run once in a one-off container of a version's image (a migration): the same
 * environment and network as the version's containers, labelled a migration (so `baton start`
 * never adopts it), its output followed into Baton's log, removed once it ended or timed out.
 */
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { BatonError } from '../errors.js';
import type { ServiceConfig } from '../config/types.js';
import { API_TIMEOUT_MS, LABELS, callSignal, containerName, messageOf, stopAndRemove } from './docker-engine.js';
import { ensureImage } from './docker-image.js';
import { followLogs } from './docker-logs.js';
import type { RunOnceOptions, RunOnceResult } from './runtime.js';

const OUTPUT_LINES = 20;

export async function runContainerOnce(docker: Dockerode, service: ServiceConfig, opts: RunOnceOptions, log: Logger): Promise<RunOnceResult> {
  const began = performance.now();
  const { version } = opts;
  const image = service.docker.image.replaceAll('{version}', version);
  await ensureImage(docker, image, log, opts.signal);
  const env: Record<string, string> = { ...service.docker.env, BATON_VERSION: version, BATON_SERVICE: service.name };
  let container: Dockerode.Container;
  try {
    container = await docker.createContainer({
      name: `${containerName(service.name, version)}-migrate`,
      Image: image,
      Cmd: opts.command.map((part) => part.replaceAll('{version}', version)),
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: { [LABELS.service]: service.name, [LABELS.version]: version, 'baton.migration': 'true' },
      HostConfig: { NetworkMode: service.docker.network },
      abortSignal: callSignal(API_TIMEOUT_MS, opts.signal),
    });
  } catch (err) {
    throw new BatonError('START_FAILED', `could not create a migration container of ${image}: ${messageOf(err)}`, { cause: err, details: { image } });
  }
  const output: string[] = [];
  const ended = new AbortController();
  try {
    await container.start({ abortSignal: callSignal(API_TIMEOUT_MS, opts.signal) });
    const logs = followLogs({
      container,
      modem: docker.modem,
      adopted: false,
      tail: OUTPUT_LINES,
      signal: ended.signal,
      log,
      onLine: (line) => {
        output.push(line);
        if (output.length > OUTPUT_LINES) output.shift();
      },
    });
    let timedOut = false;
    const waited = (await container.wait({ condition: 'not-running', abortSignal: callSignal(opts.timeoutMs, opts.signal) }).catch(async (err: unknown) => {
      timedOut = true;
      log.warn({ err: messageOf(err), timeout_ms: opts.timeoutMs }, 'migration container timed out; stopping it');
      await stopAndRemove(container, 5000).catch(() => {});
      return { StatusCode: null };
    })) as { StatusCode: number | null };
    await Promise.race([logs, new Promise((r) => setTimeout(r, 1000).unref())]);
    return { exitCode: waited.StatusCode, signal: null, timedOut, output, ms: performance.now() - began };
  } catch (err) {
    throw new BatonError('START_FAILED', `could not run the migration container of ${image}: ${messageOf(err)}`, { cause: err, details: { image } });
  } finally {
    ended.abort();
    await container.remove({ force: true, abortSignal: callSignal(API_TIMEOUT_MS) }).catch(() => undefined);
  }
}
