import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import type { ExitInfo, Instance, Runtime, StartOptions } from '../../src/runtime/runtime.js';
import type { HealthConfig } from '../../src/config/types.js';
import { Supervisor } from '../../src/upstream/supervisor.js';
import { Release } from '../../src/upstream/release.js';
import { Upstream } from '../../src/upstream/upstream.js';

/**
 * Supervision's backoff (issue 12): a crashed instance is replaced after 1 s, doubling while the
 * version keeps crashing, at most 30 s; never in a tight loop. On a fake clock (the backoff runs
 * to minutes), with in-memory instances; the integration tests kill real processes.
 */

/** An instance in memory that exits when told to. */
class FakeInstance implements Instance {
  readonly host = '127.0.0.1';
  readonly survivesBaton = false;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  diedAt: number | undefined;
  #exit!: (e: ExitInfo) => void;
  constructor(
    readonly version: string,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => (this.#exit = resolve));
  }
  get id(): string {
    return String(this.port);
  }
  recentOutput(): string[] {
    return [];
  }
  async logs(): Promise<void> {}
  async nativeHealth(): Promise<'none'> {
    return 'none';
  }
  async stop(): Promise<void> {
    this.die({ code: 0, signal: 'SIGTERM' });
  }
  die(e: ExitInfo = { code: 1, signal: null }): void {
    if (this.exitInfo !== undefined) return;
    this.exitInfo = e;
    this.diedAt = performance.now();
    this.#exit(e);
  }
}

/** Starts in-memory instances and remembers when (on the fake clock). */
class FakeRuntime {
  readonly kind = 'process' as const;
  readonly started: Array<{ instance: FakeInstance; at: number }> = [];
  #port = 2000;
  async start({ version }: StartOptions): Promise<Instance> {
    const instance = new FakeInstance(version, this.#port++);
    this.started.push({ instance, at: performance.now() });
    return instance;
  }
}

const HEALTH = {} as HealthConfig;

function setUp(opts: { crashOnStart: boolean }): { runtime: FakeRuntime; release: Release; first: FakeInstance; logged: Array<Record<string, unknown>>; supervisor: Supervisor } {
  const runtime = new FakeRuntime();
  const logged: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const first = new FakeInstance('v1', 1000);
  const release = new Release('v1', [new Upstream(first)]);
  const supervisor = new Supervisor({
    target: () => ({ runtime: runtime as unknown as Runtime, health: HEALTH }),
    serving: () => true,
    // Healthy at once; a crashing version then dies right after it joined.
    health: async (instance) => {
      if (opts.crashOnStart) setTimeout(() => (instance as FakeInstance).die(), 0);
      return { ok: true, probes: 1 } as never;
    },
    stopGraceMs: 0,
    log,
  });
  supervisor.watch(release);
  return { runtime, release, first, logged, supervisor };
}

const replacing = (logged: Array<Record<string, unknown>>): Array<Record<string, unknown>> => logged.filter((l) => l.msg === 'instance exited; replacing it');

describe('Supervisor backoff', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a version that keeps crashing is restarted after 1 s, 2 s, 4 s ... and never more often than every 30 s', async () => {
    const { runtime, release, first, logged, supervisor } = setUp({ crashOnStart: true });
    const slot = release.upstreams[0]!;
    first.die();
    await vi.advanceTimersByTimeAsync(0);
    // Status reads this while the slot waits: one crash, the next start a second away.
    expect(slot.restarting).toEqual({ crashes: 1, at: Date.now() + 1000 });
    await vi.advanceTimersByTimeAsync(200_000);
    supervisor.stop();

    const delays = replacing(logged).map((l) => l.restart_in_ms);
    expect(delays.slice(0, 8)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(replacing(logged).map((l) => l.crashes_in_a_row).slice(0, 3)).toEqual([1, 2, 3]);
    // The starts themselves follow the backoff: each one waited its delay after the crash before it.
    const deaths = [first, ...runtime.started.map((s) => s.instance)].map((i) => i.diedAt!);
    const gaps = runtime.started.map((s, i) => s.at - deaths[i]!);
    expect(gaps.slice(0, 7)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    // 200 s of crashing: 1+2+4+8+16 = 31 s, then one start per 30 s: 11 starts at most, not a tight loop.
    expect(runtime.started.length).toBeLessThanOrEqual(11);
    // Each replacement counts one more restart, carried to the instance in the slot.
    expect(replacing(logged).map((l) => l.restarts).slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('an instance that served a minute before it crashed starts the backoff over at 1 s', async () => {
    const { runtime, first, logged, supervisor } = setUp({ crashOnStart: false });
    first.die();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runtime.started).toHaveLength(1);
    runtime.started[0]!.instance.die();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(runtime.started).toHaveLength(2);
    // This one runs past the stable minute, then crashes: 1 s again, not 4 s.
    await vi.advanceTimersByTimeAsync(61_000);
    runtime.started[1]!.instance.die();
    await vi.advanceTimersByTimeAsync(1_000);
    supervisor.stop();
    expect(replacing(logged).map((l) => l.restart_in_ms)).toEqual([1000, 2000, 1000]);
    expect(runtime.started).toHaveLength(3);
  });

  it('stops replacing once Baton stops', async () => {
    const { runtime, first, supervisor } = setUp({ crashOnStart: true });
    first.die();
    await vi.advanceTimersByTimeAsync(500);
    supervisor.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runtime.started).toHaveLength(0);
  });
});
