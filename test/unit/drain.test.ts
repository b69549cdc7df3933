import { describe, it, expect, afterEach } from 'vitest';
import type { Instance } from '../../src/runtime/runtime.js';
import { Upstream, type CutReason, type InFlight, type TrackedSocket } from '../../src/upstream/upstream.js';

/** setTimeout may fire up to a millisecond early as performance.now() sees it. */
const SLACK_MS = 2;

const fakeInstance: Instance = {
  version: 'v1',
  host: '127.0.0.1',
  port: 1,
  id: 'fake',
  exited: new Promise(() => {}),
  exitInfo: undefined,
  recentOutput: () => [],
  nativeHealth: async () => 'none',
  stop: async () => {},
  survivesBaton: false,
};

const opened: Upstream[] = [];
afterEach(() => {
  for (const u of opened.splice(0)) u.close();
});

function upstream(): Upstream {
  const u = new Upstream(fakeInstance);
  opened.push(u);
  return u;
}

const t0 = (): number => performance.now();
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Cut {
  reason: CutReason;
  atMs: number;
}

/** What the drain sees of an exchange, as the request path's exchange behaves: cut() calls onCut, finish() untracks. */
class FakeExchange implements InFlight {
  isStream = false;
  done = false;
  onCut: ((reason: CutReason) => void) | undefined;
  constructor(readonly upstream: Upstream) {
    upstream.track(this);
  }
  cut(reason: CutReason): void {
    if (!this.done) this.onCut?.(reason);
  }
  finish(): void {
    this.done = true;
    this.upstream.untrack(this);
  }
}

/** Begin an exchange that records its cuts (ms since `start`); `endOnCut` ends it as the exchange would. */
function tracked(u: Upstream, start: number, opts: { stream?: boolean; endOnCut?: boolean } = {}): { ex: FakeExchange; cuts: Cut[] } {
  const ex = new FakeExchange(u);
  const cuts: Cut[] = [];
  ex.isStream = opts.stream ?? false;
  ex.onCut = (reason) => {
    cuts.push({ reason, atMs: performance.now() - start });
    if (opts.endOnCut ?? false) ex.finish();
  };
  return { ex, cuts };
}

/** A WebSocket stand-in recording when closeForRestart and destroy were called. */
function fakeSocket(start: number, opts: { closeTakesMs?: number } = {}): TrackedSocket & { closedAtMs: number[]; destroyed: number } {
  const s = {
    closedAtMs: [] as number[],
    destroyed: 0,
    async closeForRestart(): Promise<void> {
      s.closedAtMs.push(performance.now() - start);
      if (opts.closeTakesMs !== undefined) await delay(opts.closeTakesMs);
    },
    destroy(): void {
      s.destroyed++;
    },
  };
  return s;
}

describe('Upstream.drain', () => {
  it('resolves at once when nothing is in flight', async () => {
    const u = upstream();
    const start = t0();
    const report = await u.drain({ timeoutMs: 2000, websocketGraceMs: 1000 });
    expect(performance.now() - start).toBeLessThan(50);
    expect(report).toMatchObject({ cut: 0, streamsEnded: 0, websocketsClosed: 0 });
  });

  it('waits for in-flight requests to finish and cuts none', async () => {
    const u = upstream();
    const start = t0();
    const a = tracked(u, start);
    const b = tracked(u, start);
    setTimeout(() => a.ex.finish(), 20);
    setTimeout(() => b.ex.finish(), 50);
    const report = await u.drain({ timeoutMs: 2000, websocketGraceMs: 1000 });
    const took = performance.now() - start;
    expect(took).toBeGreaterThanOrEqual(50 - SLACK_MS);
    expect(took).toBeLessThan(1000);
    expect(report.cut).toBe(0);
    expect(a.cuts).toEqual([]);
    expect(b.cuts).toEqual([]);
    expect(u.inflight).toBe(0);
  });

  it('cuts requests still in flight at the timeout with reason timeout', async () => {
    const u = upstream();
    const start = t0();
    const quick = tracked(u, start);
    const stuck = tracked(u, start);
    setTimeout(() => quick.ex.finish(), 10);
    const report = await u.drain({ timeoutMs: 60, websocketGraceMs: 60 });
    const took = performance.now() - start;
    expect(report.cut).toBe(1);
    expect(quick.cuts).toEqual([]);
    expect(stuck.cuts.map((c) => c.reason)).toEqual(['timeout']);
    expect(stuck.cuts[0]!.atMs).toBeGreaterThanOrEqual(60 - SLACK_MS);
    expect(took).toBeLessThan(1000);
  });

  it('ends streams with reason grace at the websocket grace while a normal request keeps going', async () => {
    const u = upstream();
    const start = t0();
    const stream = tracked(u, start, { stream: true, endOnCut: true });
    const normal = tracked(u, start);
    let normalDoneAtCut: boolean | undefined;
    const onCut = stream.ex.onCut!;
    stream.ex.onCut = (reason) => {
      normalDoneAtCut = normal.ex.done;
      onCut(reason);
    };
    setTimeout(() => normal.ex.finish(), 120);
    const report = await u.drain({ timeoutMs: 2000, websocketGraceMs: 40 });
    const took = performance.now() - start;
    expect(stream.cuts.map((c) => c.reason)).toEqual(['grace']);
    expect(stream.cuts[0]!.atMs).toBeGreaterThanOrEqual(40 - SLACK_MS);
    expect(normalDoneAtCut).toBe(false);
    expect(normal.cuts).toEqual([]);
    expect(took).toBeGreaterThanOrEqual(120 - SLACK_MS);
    expect(report).toMatchObject({ cut: 0, streamsEnded: 1 });
  });

  it('closes tracked sockets only once the grace is over, even when all requests finished early', async () => {
    const u = upstream();
    const start = t0();
    const socket = fakeSocket(start);
    u.trackSocket(socket);
    const req = tracked(u, start);
    setTimeout(() => req.ex.finish(), 10);
    let closesAt30ms = -1;
    setTimeout(() => (closesAt30ms = socket.closedAtMs.length), 30);
    const report = await u.drain({ timeoutMs: 2000, websocketGraceMs: 70 });
    expect(closesAt30ms).toBe(0);
    expect(socket.closedAtMs).toHaveLength(1);
    expect(socket.closedAtMs[0]!).toBeGreaterThanOrEqual(70 - SLACK_MS);
    expect(socket.closedAtMs[0]!).toBeLessThan(1000);
    expect(report.websocketsClosed).toBe(1);
  });

  it('closes tracked sockets at the grace when nothing else is in flight', async () => {
    const u = upstream();
    const start = t0();
    const socket = fakeSocket(start);
    u.trackSocket(socket);
    const report = await u.drain({ timeoutMs: 2000, websocketGraceMs: 50 });
    expect(socket.closedAtMs).toHaveLength(1);
    expect(socket.closedAtMs[0]!).toBeGreaterThanOrEqual(50 - SLACK_MS);
    expect(report.websocketsClosed).toBe(1);
  });

  it('resolves only after the sockets have closed', async () => {
    const u = upstream();
    const start = t0();
    u.trackSocket(fakeSocket(start, { closeTakesMs: 40 }));
    await u.drain({ timeoutMs: 2000, websocketGraceMs: 30 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(30 + 40 - SLACK_MS);
  });

  it('destroys sockets still tracked after closing them, and not those that untracked themselves', async () => {
    const u = upstream();
    const start = t0();
    const lingering = fakeSocket(start);
    u.trackSocket(lingering);
    const polite = fakeSocket(start);
    const politeTunnel = {
      closeForRestart: async (): Promise<void> => {
        await polite.closeForRestart();
        u.untrackSocket(politeTunnel);
      },
      destroy: (): void => polite.destroy(),
    };
    u.trackSocket(politeTunnel);
    await u.drain({ timeoutMs: 2000, websocketGraceMs: 20 });
    expect(lingering.closedAtMs).toHaveLength(1);
    expect(polite.closedAtMs).toHaveLength(1);
    expect(lingering.destroyed).toBe(1);
    expect(polite.destroyed).toBe(0);
  });

  it('an abort ends the wait early and cuts what is left', async () => {
    const u = upstream();
    const start = t0();
    const stuck = tracked(u, start);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const report = await u.drain({ timeoutMs: 5000, websocketGraceMs: 5000, signal: ac.signal });
    const took = performance.now() - start;
    expect(took).toBeGreaterThanOrEqual(30 - SLACK_MS);
    expect(took).toBeLessThan(1000);
    expect(stuck.cuts.map((c) => c.reason)).toEqual(['timeout']);
    expect(report.cut).toBe(1);
  });

  it('an abort also ends the grace: sockets are closed at once', async () => {
    const u = upstream();
    const start = t0();
    const socket = fakeSocket(start);
    u.trackSocket(socket);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    await u.drain({ timeoutMs: 5000, websocketGraceMs: 5000, signal: ac.signal });
    expect(socket.closedAtMs).toHaveLength(1);
    expect(socket.closedAtMs[0]!).toBeLessThan(1000);
  });
});
