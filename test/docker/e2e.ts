/**
 * Helpers of the Docker end-to-end tests (baton.test.ts): the config of a `runtime: docker`
 * service on the test app images, and small probes of the engine and of Baton's answers.
 */

import Dockerode from 'dockerode';
import { events } from '../helpers/baton.js';

/** The test app images (test/docker/images/build.sh), under a registry address nothing listens on. */
export const REPO = '127.0.0.1:9/baton-test-app';

/** The engine of DOCKER_HOST, else the local socket. */
export const docker = new Dockerode();

/** A config with one `runtime: docker` service on the test app images. */
export function dockerYaml(service: string, opts: { listen?: string; deadline?: string } = {}): string {
  return `listen: ${opts.listen ?? '127.0.0.1:0'}
control:
  socket: ./baton.sock
services:
  ${service}:
    hosts: ["*"]
    version: v1
    runtime: docker
    docker:
      image: "${REPO}:{version}"
      network: host
    health:
      interval: 50ms
      timeout: 2s
      deadline: ${opts.deadline ?? '20s'}
    drain:
      timeout: 10s
      websocket_grace: 0s
`;
}

export type Event = Record<string, unknown>;
export type Failure = { code: string; message: string; step: string; exit_code?: number; output?: string[] };

export function doneOf(stdout: string): Event & { ok?: boolean; error?: Failure } {
  const done = events(stdout).at(-1);
  if (done?.done !== true) throw new Error(`no done event in:\n${stdout}`);
  return done;
}

export async function getVersion(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return ((await res.json()) as { version: string }).version;
}

/** Ids of the containers labelled for `service` (running or not). */
export async function containersOf(service: string, all = true): Promise<string[]> {
  const list = await docker.listContainers({ all, filters: { label: [`baton.service=${service}`] } });
  return list.map((c) => c.Id);
}

export async function gone(id: string): Promise<boolean> {
  return docker.getContainer(id).inspect().then(
    () => false,
    (err: { statusCode?: number }) => err.statusCode === 404,
  );
}

export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const round = (ms: number): number => Math.round(ms * 10) / 10;

/** The labels Baton puts on its containers, for leftovers made by hand. */
export function managedLabels(service: string, version: string, port: number): Record<string, string> {
  return {
    'baton.managed': 'true',
    'baton.service': service,
    'baton.version': version,
    'baton.port': String(port),
    'baton.network': 'host',
  };
}

/** Fails when the engine or a needed test image is missing (run only where the tests must run). */
export async function requireEngineAndImages(engine: boolean, images: string[]): Promise<void> {
  if (!engine) throw new Error('CI=true but no Docker engine answered: .ci/run must run .ci/docker-up.sh first');
  for (const image of images) {
    await docker.getImage(image).inspect().catch((err: unknown) => {
      throw new Error(`test image ${image} is missing: run .ci/docker-up.sh`, { cause: err });
    });
  }
}
