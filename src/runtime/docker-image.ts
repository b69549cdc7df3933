/**
 * The image policy of the Docker runtime: a local image is used as it is; an image that is
 * missing is pulled (progress in the log); one that is neither local nor pullable fails the
 * start step with IMAGE_NOT_FOUND naming it.
 */

import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { BatonError } from '../errors.js';
import { API_TIMEOUT_MS, callSignal, messageOf, raceSignal, statusCodeOf, throwIfAborted } from './docker-engine.js';

const PULL_TIMEOUT_MS = 10 * 60_000;

/** Resolves once `image` is present locally; rejects with a BatonError naming the image. */
export async function ensureImage(docker: Dockerode, image: string, log: Logger, signal: AbortSignal | undefined): Promise<void> {
  try {
    // Image.inspect takes no AbortSignal: race it instead.
    await raceSignal(docker.getImage(image).inspect(), callSignal(API_TIMEOUT_MS, signal));
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
  log.info({ image }, 'image pull started');
  try {
    await pull(docker, image, log, callSignal(PULL_TIMEOUT_MS, signal));
  } catch (err) {
    throwIfAborted(signal, { image });
    throw new BatonError('IMAGE_NOT_FOUND', `image ${image} is not present and could not be pulled: ${messageOf(err)}`, {
      cause: err,
      details: { image },
    });
  }
  log.info({ image }, 'image pulled');
}

async function pull(docker: Dockerode, image: string, log: Logger, signal: AbortSignal): Promise<void> {
  const stream = await docker.pull(image, { abortSignal: signal });
  await new Promise<void>((resolve, reject) => {
    const onProgress = (event: { status?: string; id?: string; error?: string; progress?: string }): void => {
      // Per-layer byte counts are noise at info level; layer and image milestones are not.
      const level = event.progress !== undefined ? 'debug' : 'info';
      log[level]({ image, layer: event.id, progress: event.progress }, `pull: ${event.status ?? event.error ?? ''}`);
    };
    const onFinished = (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]): void => {
      // An error met after the pull began arrives as an event, not as `err`.
      const failed = output.find((e) => e.error !== undefined || e.errorDetail !== undefined);
      if (err) reject(err);
      else if (failed) reject(new Error(failed.error ?? failed.errorDetail?.message ?? 'pull failed'));
      else resolve();
    };
    docker.modem.followProgress(stream, onFinished, onProgress);
  });
}
