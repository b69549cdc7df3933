/**
 * DockerRuntime against a real engine and the images of test/docker/images (built by
 * .ci/docker-up.sh). Skipped with a printed reason when no engine answers, except under
 * CI=true, where a missing engine is a failure.
 */

import { Writable } from 'node:stream';
import Dockerode from 'dockerode';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../src/config/types.js';
import { isBatonError } from '../../src/errors.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { freePort } from '../../src/runtime/free-port.js';
import type { Instance } from '../../src/runtime/runtime.js';
import { requireEngineAndImages } from './e2e.js';

const REPO = '127.0.0.1:9/baton-test-app';
const NEEDED = ['v1', 'v2', 'crash', 'unhealthy', 'healthcheck-ok'].map((t) => `${REPO}:${t}`);

const docker = new Dockerode();
const engine = await docker.ping({ abortSignal: AbortSignal.timeout(3_000) }).then(
  () => true,
  () => false,
);
const mustRun = process.env.CI === 'true';
if (!engine && !mustRun) {
  console.warn('test/docker/runtime.test.ts skipped: no Docker engine answered (run .ci/docker-up.sh); under CI=true this fails');
}

function serviceConfig(name: string, env: Record<string, string> = {}): ServiceConfig {
  return {
    name,
    hosts: ['*'],
    version: 'v1',
    runtime: 'docker',
    process: { command: [], cwd: '/', env: {} },
    docker: { image: `${REPO}:{version}`, port: 3000, network: 'host', env },
    health: { path: '/healthz', intervalMs: 100, timeoutMs: 1_000, deadlineMs: 10_000, healthyThreshold: 1 },
    hold: { timeoutMs: 10_000, maxQueued: 100 },
    drain: { timeoutMs: 5_000, websocketGraceMs: 1_000 },
    notify: { inject: false },
  };
}

/** A pino logger whose JSON lines land in `lines`. */
function capturingLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function getJson(instance: Instance, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://${instance.host}:${instance.port}${path}`, { signal: AbortSignal.timeout(2_000) });
  const text = await res.text();
  return { status: res.status, body: path === '/healthz' ? text : JSON.parse(text) };
}

describe.skipIf(!engine && !mustRun)('DockerRuntime (real engine)', { timeout: 30_000 }, () => {
  // Each test gets its own service name, so findRunning and removeStale see only its containers.
  let serial = 0;
  const service = (): string => `rt${process.pid}x${++serial}`;
  const started = new Set<string>();
  const runtimes: DockerRuntime[] = [];

  function makeRuntime(name = service(), env: Record<string, string> = {}, log = pino({ level: 'silent' })): DockerRuntime {
    const runtime = new DockerRuntime({ service: serviceConfig(name, env), docker, log, pickPort: () => freePort() });
    runtimes.push(runtime);
    return runtime;
  }

  async function start(runtime: DockerRuntime, version: string): Promise<Instance> {
    const instance = await runtime.start({ version });
    started.add(instance.id);
    return instance;
  }

  beforeAll(() => requireEngineAndImages(engine, NEEDED));

  afterEach(async () => {
    await Promise.all(
      [...started].map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)),
    );
    started.clear();
  });

  afterAll(() => {
    for (const runtime of runtimes) runtime.close();
  });

  it('starts a version on a free loopback port, where it answers with its version', async () => {
    const instance = await start(makeRuntime(), 'v1');
    expect(instance.host).toBe('127.0.0.1');
    expect(instance.port).toBeGreaterThan(0);
    const health = await until('healthz 200', async () => ((await getJson(instance, '/healthz')).status === 200 ? true : undefined), 10_000);
    expect(health).toBe(true);
    expect((await getJson(instance, '/')).body).toMatchObject({ version: 'v1' });
  });

  it('labels and names the container and gives the app PORT, HOST, BATON_VERSION and docker.env', async () => {
    const name = service();
    const instance = await start(makeRuntime(name, { GREETING: 'hello' }), 'v2');
    const info = await docker.getContainer(instance.id).inspect();
    expect(info.Name).toMatch(new RegExp(`^/baton-${name}-v2-[0-9a-f]{6}$`));
    expect(info.Config.Labels).toMatchObject({
      'baton.managed': 'true',
      'baton.service': name,
      'baton.version': 'v2',
      'baton.port': String(instance.port),
    });
    expect(info.HostConfig.NetworkMode).toBe('host');
    expect(info.Config.Env).toEqual(
      expect.arrayContaining(['GREETING=hello', `PORT=${instance.port}`, 'HOST=127.0.0.1', 'BATON_VERSION=v2']),
    );
  });

  it('fails fast with IMAGE_NOT_FOUND naming an image that is neither local nor pullable', async () => {
    const began = Date.now();
    const error = await makeRuntime()
      .start({ version: 'nope' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(isBatonError(error) && error.code).toBe('IMAGE_NOT_FOUND');
    expect((error as Error).message).toContain(`${REPO}:nope`);
    expect(Date.now() - began).toBeLessThan(10_000);
  });

  it('resolves exited with the exit code of a crashing app, its last words in recentOutput', async () => {
    const instance = await start(makeRuntime(), 'crash');
    const exit = await Promise.race([instance.exited, new Promise((r) => setTimeout(() => r('pending'), 10_000))]);
    expect(exit).toEqual({ code: 3, signal: null });
    expect(instance.recentOutput().join('\n')).toContain('boom: crashing on purpose');
  });

  it('logs the app output with service, version and stream', async () => {
    const { log, lines } = capturingLogger();
    const name = service();
    const instance = await start(makeRuntime(name, {}, log), 'crash');
    await instance.exited;
    expect(lines).toContainEqual(
      expect.objectContaining({ service: name, version: 'crash', stream: 'stderr', msg: 'boom: crashing on purpose' }),
    );
  });

  it('reports a failing Docker HEALTHCHECK as unhealthy', async () => {
    const instance = await start(makeRuntime(), 'unhealthy');
    const seen = await until('unhealthy', async () => ((await instance.nativeHealth()) === 'unhealthy' ? 'unhealthy' : undefined), 10_000);
    expect(seen).toBe('unhealthy');
  });

  it('reports a passing Docker HEALTHCHECK as healthy', async () => {
    const instance = await start(makeRuntime(), 'healthcheck-ok');
    expect(['starting', 'healthy']).toContain(await instance.nativeHealth());
    const seen = await until('healthy', async () => ((await instance.nativeHealth()) === 'healthy' ? 'healthy' : undefined), 10_000);
    expect(seen).toBe('healthy');
  });

  it('reports none for an image without a HEALTHCHECK', async () => {
    const instance = await start(makeRuntime(), 'v1');
    expect(await instance.nativeHealth()).toBe('none');
  });

  it('finds the running containers of its service, newest first, and can stop what it found', async () => {
    const name = service();
    const runtime = makeRuntime(name);
    const v1 = await start(runtime, 'v1');
    const v2 = await start(runtime, 'v2');
    const other = await start(makeRuntime(), 'v1'); // another service: not ours to find

    const found = await makeRuntime(name).findRunning();
    expect(found.map((i) => [i.id, i.version, i.host, i.port])).toEqual([
      [v2.id, 'v2', '127.0.0.1', v2.port],
      [v1.id, 'v1', '127.0.0.1', v1.port],
    ]);
    expect(found.map((i) => i.id)).not.toContain(other.id);
    expect(found[0]?.survivesBaton).toBe(true);

    await found[0]?.stop(2_000);
    expect(await found[0]?.exited).toEqual({ code: 0, signal: null });
    expect((await makeRuntime(name).findRunning()).map((i) => i.id)).toEqual([v1.id]);
  });

  it('keeps an adopted container\'s recent output without logging it again', async () => {
    const name = service();
    const v1 = await start(makeRuntime(name), 'v1');
    await until('listening line', async () => (v1.recentOutput().some((l) => l.includes('listening')) ? true : undefined), 10_000);
    const { log, lines } = capturingLogger();
    const [adopted] = await makeRuntime(name, {}, log).findRunning();
    await until('replayed output', async () => (adopted?.recentOutput().some((l) => l.includes('listening')) ? true : undefined), 5_000);
    expect(lines.filter((l) => l.stream !== undefined)).toEqual([]);
  });

  it('holds no socket that would keep Baton alive while it follows a running container', async () => {
    // Baton exits by closing what it owns; a container it leaves running must not pin the process.
    const pinning = (): number => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap' || r === 'TCPSocketWrap').length;
    const before = pinning();
    const instance = await start(makeRuntime(), 'v1');
    await until('listening line', async () => (instance.recentOutput().some((l) => l.includes('listening')) ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(pinning()).toBe(before);
  });

  it('stops gracefully (exit 0), removes the container, and is idempotent', async () => {
    const instance = await start(makeRuntime(), 'v1');
    await until('healthz 200', async () => ((await getJson(instance, '/healthz')).status === 200 ? true : undefined), 10_000);
    await Promise.all([instance.stop(5_000), instance.stop(5_000)]);
    await instance.stop(5_000);
    expect(await instance.exited).toEqual({ code: 0, signal: null });
    const gone = await docker.getContainer(instance.id).inspect().then(
      () => 'present',
      (err: { statusCode?: number }) => err.statusCode,
    );
    expect(gone).toBe(404);
  });

  it('removeStale stops and removes every container of the service but the kept one', async () => {
    const name = service();
    const runtime = makeRuntime(name);
    const v1 = await start(runtime, 'v1');
    const v2 = await start(runtime, 'v2');
    const crashed = await start(runtime, 'crash');
    await crashed.exited;

    const removed = await runtime.removeStale(v2, 1_000);
    expect(removed.sort()).toEqual([v1.id, crashed.id].sort());
    const left = await docker.listContainers({ all: true, filters: { label: [`baton.service=${name}`] } });
    expect(left.map((c) => c.Id)).toEqual([v2.id]);
  });
});
