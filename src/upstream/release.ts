import type { DrainOptions, DrainReport, Upstream } from './upstream.js';

export type LoadBalancing = 'least_inflight' | 'round_robin';

/**
 * One version of a service, running: its upstreams (one per replica) and how a request picks
 * one of them. What a swap starts, switches to as a whole, and drains as a whole.
 */
export class Release {
  readonly version: string;
  /** Replaced whole (copy on write) when supervision swaps a dead instance for a fresh one. */
  upstreams: readonly Upstream[];
  #balancing: LoadBalancing;
  #next = 0;

  constructor(version: string, upstreams: readonly Upstream[], balancing: LoadBalancing = 'least_inflight') {
    this.version = version;
    this.upstreams = upstreams;
    this.#balancing = balancing;
  }

  set balancing(b: LoadBalancing) {
    this.#balancing = b;
  }

  get inflight(): number {
    let n = 0;
    for (const u of this.upstreams) n += u.inflight;
    return n;
  }

  get websockets(): number {
    let n = 0;
    for (const u of this.upstreams) n += u.websockets;
    return n;
  }

  /**
   * The upstream for the next request, among those in the rotation, skipping `avoid` (the one
   * a retried request failed on) while another is available. Undefined when none is available.
   */
  pick(avoid?: Upstream): Upstream | undefined {
    const all = this.upstreams;
    if (all.length === 1) {
      const only = all[0]!;
      return only.available ? only : undefined;
    }
    let best: Upstream | undefined;
    if (this.#balancing === 'round_robin') {
      for (let i = 0; i < all.length; i++) {
        const u = all[this.#next++ % all.length]!;
        if (!u.available) continue;
        if (u !== avoid) return u;
        best ??= u;
      }
      return best;
    }
    // Least in flight; ties go round, so sequential requests spread too.
    const start = this.#next++ % all.length;
    for (let i = 0; i < all.length; i++) {
      const u = all[(start + i) % all.length]!;
      if (!u.available || (u === avoid && best !== undefined)) continue;
      if (best === undefined || best === avoid || u.inflight < best.inflight) best = u;
    }
    return best;
  }

  /** How many of its upstreams are in the rotation. */
  get available(): number {
    let n = 0;
    for (const u of this.upstreams) if (u.available) n++;
    return n;
  }

  /** Put `fresh` in `dead`'s place (supervision), in one assignment. */
  replace(dead: Upstream, fresh: Upstream): boolean {
    const i = this.upstreams.indexOf(dead);
    if (i === -1) return false;
    const next = [...this.upstreams];
    next[i] = fresh;
    this.upstreams = next;
    return true;
  }

  /** Wait until none of its upstreams has a request in flight (streams aside); returns how many were cut at the timeout. */
  async quiesce(timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const cut = await Promise.all(this.upstreams.map((u) => u.quiesce(timeoutMs, signal)));
    return cut.reduce((a, b) => a + b, 0);
  }

  /** Drain every upstream at once; the report adds theirs up. */
  async drain(opts: DrainOptions): Promise<DrainReport> {
    const reports = await Promise.all(this.upstreams.map((u) => u.drain(opts)));
    const total: DrainReport = { cut: 0, streamsEnded: 0, websocketsClosed: 0, reprieved: false, ms: 0 };
    for (const r of reports) {
      total.cut += r.cut;
      total.streamsEnded += r.streamsEnded;
      total.websocketsClosed += r.websocketsClosed;
      total.reprieved ||= r.reprieved;
      total.ms = Math.max(total.ms, r.ms);
    }
    return total;
  }

  /** Stop every instance (SIGTERM / docker stop, then forceful after `graceMs`) and close the pools. */
  async stop(graceMs: number): Promise<void> {
    await Promise.all(
      this.upstreams.map(async (u) => {
        await u.instance.stop(graceMs);
        u.close();
      }),
    );
  }

  /** Resolves when the first of its instances exits by itself or is stopped. */
  firstExit(): Promise<Upstream> {
    return Promise.race(this.upstreams.map((u) => u.instance.exited.then(() => u)));
  }
}
