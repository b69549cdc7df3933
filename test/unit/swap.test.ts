import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { ExitInfo, Instance, Runtime, StartOptions } from '../../src/runtime/runtime.js';
import { Service } from '../../src/service.js';
import { swap, type HealthCheck, type SwapDeps, type SwapEvent } from '../../src/swap/swap.js';
import { Release } from '../../src/upstream/release.js';
import { Upstream } from '../../src/upstream/upstream.js';
import type { Notice } from '../../src/notify/hub.js';
import { BatonError } from '../../src/errors.js';

/** An instance that exists only in memory: it exits when told to (or when stopped). */
class FakeInstance implements Instance {
  readonly host = '127.0.0.1';
  readonly survivesBaton = false;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  stopped = false;
  #exit!: (e: ExitInfo) => void;

  constructor(
    readonly version: string,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => (this.#exit = resolve));
  }
  get id(): string {
    return `fake-${this.version}-${this.port}`;
  }
  recentOutput(): string[] {
    return [`${this.version} says goodbye`];
  }
  async nativeHealth(): Promise<'none'> {
    return 'none';
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.die({ code: 0, signal: 'SIGTERM' });
  }
  die(e: ExitInfo): void {
    if (this.exitInfo !== undefined) return;
    this.exitInfo = e;
    this.#exit(e);
  }
}

class FakeRuntime implements Runtime {
  readonly kind = 'process' as const;
  readonly started: FakeInstance[] = [];
  failStart: string | undefined;
  #port = 1000;
  async start({ version }: StartOptions): Promise<Instance> {
    if (this.failStart !== undefined) throw new BatonError('START_FAILED', this.failStart);
    const i = new FakeInstance(version, this.#port++);
    this.started.push(i);
    return i;
  }
  async findRunning(): Promise<Instance[]> {
    return [];
  }
}

const CONFIG = parseConfig('services:\n  web:\n    version: v1\n    process:\n      command: ["app"]\n    drain:\n      timeout: 1s\n      websocket_grace: 0s\n', '<default>');

function setup(opts: { replicas?: number } = {}) {
  const runtime = new FakeRuntime();
  const config = { ...CONFIG.services.web!, replicas: opts.replicas ?? 1 };
  const service = new Service(config, runtime, pino({ level: 'silent' }));
  const v1 = new FakeInstance('v1', 1);
  service.adopt(new Release('v1', [new Upstream(v1)]), undefined);
  const notices: Notice[] = [];
  let healthy: (i: Instance) => boolean = () => true;
  const health: HealthCheck = async (instance) => (healthy(instance) ? { ok: true, probes: 1 } : { ok: false, reason: 'deadline', probes: 3, lastStatus: 'HTTP 503' });
  const deps: SwapDeps = {
    notify: (n) => {
      notices.push(n);
      return 1;
    },
    persist: async () => {},
    health,
    signal: new AbortController().signal,
    stopGraceMs: 10,
  };
  const events: SwapEvent[] = [];
  const run = (version: string, kind: 'deploy' | 'rollback' = 'deploy') => swap(service, version, kind, deps, (e) => events.push(e));
  return { runtime, service, v1, notices, events, run, setHealthy: (f: (i: Instance) => boolean) => (healthy = f) };
}

const steps = (events: SwapEvent[]): string[] => events.map((e) => ('step' in e ? String(e.step) : 'done'));

describe('swap (fake runtime, no sockets)', () => {
  it('a deploy reads as its steps: start, healthy, hold, switch, resume, notify, drain, stop', async () => {
    const { service, v1, events, notices, run } = setup();
    const done = await run('v2');
    expect(done).toMatchObject({ done: true, ok: true, version: 'v2', previous: 'v1' });
    expect(steps(events)).toEqual(['start', 'healthy', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop', 'done']);
    expect(service.active?.version).toBe('v2');
    expect(service.previousVersion).toBe('v1');
    expect(v1.stopped).toBe(true);
    expect(notices.map((n) => n.type)).toEqual(['deploying', 'deployed']);
    expect(service.gate.open).toBe(true);
  });

  it('a version that cannot start changes nothing', async () => {
    const { service, runtime, events, run } = setup();
    runtime.failStart = 'no such image';
    const done = await run('v2');
    expect(done).toMatchObject({ ok: false, error: { step: 'start', code: 'START_FAILED' } });
    expect(steps(events)).toEqual(['done']);
    expect(service.active?.version).toBe('v1');
    expect(service.previousVersion).toBeUndefined();
  });

  it('a version never healthy is stopped and changes nothing', async () => {
    const { service, runtime, run, setHealthy } = setup();
    setHealthy(() => false);
    const done = await run('v2');
    expect(done).toMatchObject({ ok: false, error: { step: 'healthy', code: 'HEALTH_DEADLINE', last_health: 'HTTP 503' } });
    expect(runtime.started[0]!.stopped).toBe(true);
    expect(service.active?.version).toBe('v1');
  });

  it('with replicas, every instance must be healthy; one that is not fails the deploy and all are stopped', async () => {
    const { service, runtime, run, setHealthy } = setup({ replicas: 3 });
    setHealthy((i) => i.port !== 1001);
    const done = await run('v2');
    expect(done).toMatchObject({ ok: false, error: { step: 'healthy' } });
    expect(runtime.started).toHaveLength(3);
    expect(runtime.started.every((i) => i.stopped)).toBe(true);
    expect(service.active?.version).toBe('v1');
  });

  it('with replicas, the whole set is switched in one assignment', async () => {
    const { service, run } = setup({ replicas: 3 });
    await run('v2');
    expect(service.active?.upstreams.map((u) => u.version)).toEqual(['v2', 'v2', 'v2']);
  });

  it('redeploying the active version keeps the rollback target (issue 15)', async () => {
    const { service, run } = setup();
    await run('v2');
    await run('v3');
    expect(service.previousVersion).toBe('v2');
    await run('v3');
    expect(service.active?.version).toBe('v3');
    expect(service.previousVersion).toBe('v2');
  });

  it('a second swap while one runs is refused with SWAP_IN_PROGRESS', async () => {
    const { run } = setup();
    const first = run('v2');
    await expect(run('v3')).rejects.toMatchObject({ code: 'SWAP_IN_PROGRESS' });
    await first;
  });

  it('a new version that dies while the old one drains is reverted: the old one is active again, as before', async () => {
    const { service, runtime, events, run } = setup();
    // Keep the old version draining: a request stays in flight until the new version dies.
    const old = service.active!.upstreams[0]!;
    const stuck = { isStream: false, cut: () => old.untrack(stuck) };
    old.track(stuck);
    const deploying = run('v2');
    await new Promise((r) => setTimeout(r, 20));
    runtime.started[0]!.die({ code: 7, signal: null });
    const done = await deploying;
    expect(done).toMatchObject({ ok: false, error: { step: 'drain', code: 'EXITED', exit_code: 7, rolled_back_to: 'v1' } });
    expect(steps(events)).toContain('rollback');
    expect(service.active?.version).toBe('v1');
    expect(service.previousVersion).toBeUndefined();
    old.untrack(stuck);
  });
});
