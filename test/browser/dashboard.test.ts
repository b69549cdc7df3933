/**
 * The dashboard (issue 16) in real Chromium: `baton dashboard` (the CLI, a child process) in
 * front of a real Baton with two services. The page loads and shows the services, a deploy run
 * from the CLI appears in the timeline within a second and gains its steps live, the charts
 * move under load, and the TCP control listener serves the same page behind its token.
 * Screenshots and the load figures go to .tmp/ (not committed): dashboard.png,
 * dashboard-maintenance.png, dashboard-load.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, configYaml, dispose, startBaton, stopProcess, type RunningBaton } from '../helpers/baton.js';
import { browserAvailable, launchBrowser } from './helpers.js';
import { deployStreaming, freePort } from './e2e-helpers.js';

const OUTPUT_DIR = path.join(ROOT, '.tmp');
const TOKEN = 'dashboard-test-token-0123456789';

const availability = browserAvailable();
const runBrowserTests = availability.ok || process.env.CI === 'true';
if (!runBrowserTests) console.warn(`dashboard browser tests skipped: ${availability.reason}`);

/** What the page exposes as window.batonDashboard. */
interface DashboardState {
  ready: boolean;
  live: boolean;
  ticks: number;
  series: Record<string, { rps: number[] }>;
}

/** `baton dashboard --socket S`: resolves with its URL once printed. */
function startDashboard(socket: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [CLI, 'dashboard', '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`baton dashboard printed no URL: ${err}`)), 20_000);
    createInterface({ input: proc.stdout! }).once('line', (url) => {
      clearTimeout(timer);
      resolve({ url: url.trim(), proc });
    });
    proc.once('exit', (code) => reject(new Error(`baton dashboard exited with ${code}: ${err}`)));
  });
}

/** `n` GETs on `c` keep-alive connections, bounded by `deadlineMs`. */
async function load(url: string, c: number, deadlineMs: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: c });
  const until = Date.now() + deadlineMs;
  let done = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', () => resolve());
    });
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (Date.now() < until) {
        await one();
        done++;
      }
    }),
  );
  agent.destroy();
  return done;
}

describe.skipIf(!runBrowserTests)('the dashboard, in Chromium', () => {
  let browser: Browser;
  let baton: RunningBaton;
  let dash: { url: string; proc: ChildProcess };
  let context: BrowserContext;
  let page: Page;
  let tcpPort: number;

  beforeAll(async () => {
    browser = await launchBrowser();
    tcpPort = await freePort();
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    await writeFile(path.join(dir, 'ops.token'), `ops:${TOKEN}\n`, { mode: 0o600 });
    // A migration that takes a while (before the hold): the deploy is long enough to watch live.
    const web = { extra: 'drain:\n  timeout: 3s\n  websocket_grace: 500ms\nmigrate:\n  command: ["node", "-e", "setTimeout(() => {}, 1500)"]\n  hold: false\n  timeout: 20s' };
    const yaml = configYaml({ web, api: { hosts: ['api.localhost'] } }).replace(
      'control:\n  socket: ./baton.sock\n',
      `control:\n  socket: ./baton.sock\n  tcp:\n    listen: 127.0.0.1:${tcpPort}\n    token_file: ./ops.token\n`,
    );
    baton = await startBaton(yaml, { dir });
    dash = await startDashboard(baton.socket);
    mkdirSync(OUTPUT_DIR, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    if (dash !== undefined) await stopProcess(dash.proc);
    await dispose(baton);
  });

  const state = (): Promise<DashboardState> => page.evaluate(() => (window as unknown as { batonDashboard: DashboardState }).batonDashboard);

  it('loads and shows every service: state, versions, replicas (load time and size printed)', async () => {
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await context.newPage();
    let bytes = 0;
    page.on('response', (r) => {
      if (r.url().includes('/api/')) return;
      void r.body().then(
        (b) => (bytes += b.length),
        () => {},
      );
    });
    const began = Date.now();
    await page.goto(dash.url);
    await page.waitForFunction(() => (window as unknown as { batonDashboard?: DashboardState }).batonDashboard?.ready === true, undefined, { timeout: 10_000 });
    const loadMs = Date.now() - began;
    const readyMark = await page.evaluate(() => performance.getEntriesByName('baton-dashboard-ready')[0]?.startTime ?? null);

    // The token was spent: the address bar no longer carries it.
    expect(page.url()).not.toContain('token=');
    for (const name of ['web', 'api']) {
      const card = page.locator(`.svc[data-service="${name}"]`);
      await expect(card.locator('[data-state="serving"]').count()).resolves.toBe(1);
      await expect(card.locator('[data-fact="active"]').textContent()).resolves.toBe('v1');
      await expect(card.locator('.replica').count()).resolves.toBe(1);
    }
    await page.waitForFunction(() => (window as unknown as { batonDashboard: DashboardState }).batonDashboard.live, undefined, { timeout: 5000 });
    console.log(`dashboard: ready ${loadMs} ms after navigation began (page's own mark: ${Math.round(readyMark ?? -1)} ms), ${bytes} bytes of page and assets`);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(64 * 1024);
  }, 60_000);

  it('loads cold: navigation to charts drawn, median of 5 (printed, with the bytes of each file and where the time went)', async () => {
    const cookies = await context.cookies();
    const base = new URL(dash.url);
    base.search = '';
    const runs: Array<{ wall_ms: number; mark_ms: number; bytes: Record<string, number>; timing: Record<string, [number, number]> }> = [];
    for (let i = 0; i < 5; i++) {
      // A new context each time: an empty cache, the session cookie only.
      const cold = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      try {
        await cold.addCookies(cookies);
        const p = await cold.newPage();
        const bytes: Record<string, number> = {};
        const bodies: Array<Promise<void>> = [];
        p.on('response', (r) => {
          const url = new URL(r.url());
          if (url.pathname.includes('/api/')) return;
          bodies.push(r.body().then((b) => void (bytes[url.pathname] = b.length), () => {}));
        });
        const began = Date.now();
        await p.goto(base.href);
        await p.waitForFunction(() => (window as unknown as { batonDashboard?: DashboardState }).batonDashboard?.ready === true, undefined, { timeout: 10_000 });
        const wall = Date.now() - began;
        // The page's own mark: from navigation start to the end of the first render (every chart drawn).
        const mark = await p.evaluate(() => performance.getEntriesByName('baton-dashboard-ready')[0]?.startTime ?? -1);
        // When each file and API answer began and ended, after navigation start.
        const timing = await p.evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
          const out: Record<string, [number, number]> = { document: [0, Math.round(nav?.responseEnd ?? -1)] };
          for (const e of performance.getEntriesByType('resource') as PerformanceResourceTiming[]) out[new URL(e.name).pathname] = [Math.round(e.startTime), Math.round(e.responseEnd)];
          return out;
        });
        await Promise.all(bodies);
        expect(p.url()).toBe(base.href);
        await expect(p.locator('.svc[data-service="web"] [data-chart="rps"] canvas').evaluate((c: HTMLCanvasElement) => c.width)).resolves.toBeGreaterThan(0);
        runs.push({ wall_ms: wall, mark_ms: Math.round(mark), bytes, timing });
      } finally {
        await cold.close();
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const total = (b: Record<string, number>): number => Object.values(b).reduce((n, x) => n + x, 0);
    const summary = {
      runs,
      median_mark_ms: median(runs.map((r) => r.mark_ms)),
      median_wall_ms: median(runs.map((r) => r.wall_ms)),
      min_mark_ms: Math.min(...runs.map((r) => r.mark_ms)),
      max_mark_ms: Math.max(...runs.map((r) => r.mark_ms)),
      bytes: runs[0]!.bytes,
      total_bytes: total(runs[0]!.bytes),
    };
    console.log(
      `dashboard cold load (5 runs): navigation to charts drawn median ${summary.median_mark_ms} ms (range ${summary.min_mark_ms}-${summary.max_mark_ms}; test's wall clock median ${summary.median_wall_ms} ms); ` +
        `${summary.total_bytes} bytes: ${Object.entries(summary.bytes).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
        `the median run's timeline (ms from navigation start): ${JSON.stringify([...runs].sort((a, b) => a.mark_ms - b.mark_ms)[2]!.timing)}`,
    );
    writeFileSync(path.join(OUTPUT_DIR, 'dashboard-load.json'), JSON.stringify(summary, null, 2) + '\n');
    // Every run fetched the same page, script and style, and nothing else.
    for (const r of runs) expect(total(r.bytes)).toBe(summary.total_bytes);
    expect(Object.keys(summary.bytes).length).toBe(3);
    expect(summary.total_bytes).toBeLessThan(64 * 1024);
  }, 90_000);

  it('shows a deploy run from the CLI in the timeline within a second, step by step', async () => {
    // Every step the page showed for the v2 deploy while it ran, with when it first appeared.
    await page.evaluate(() => {
      const seen: Array<{ at: number; steps: string[]; outcome: string | null }> = [];
      (window as unknown as { __seen: typeof seen }).__seen = seen;
      (window as unknown as { __states: Set<string> }).__states = new Set();
      new MutationObserver(() => {
        const li = document.querySelector('.svc[data-service="web"] li.entry[data-kind="deploy"][data-version="v2"]');
        if (li === null) return;
        const steps = [...li.querySelectorAll('.step')].map((s) => s.getAttribute('data-step') + (s.classList.contains('now') ? '*' : ''));
        const last = seen.at(-1);
        const outcome = li.getAttribute('data-outcome');
        for (const b of document.querySelectorAll('.svc[data-service="web"] .badges [data-state]')) (window as unknown as { __states: Set<string> }).__states.add(b.getAttribute('data-state')!);
        if (last === undefined || last.steps.join() !== steps.join() || last.outcome !== outcome) seen.push({ at: Date.now(), steps, outcome });
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    const deploy = deployStreaming(baton.socket, 'web', 'v2');
    const { code, events } = await deploy.done;
    expect(code).toBe(0);
    await page.locator('.svc[data-service="web"] li.entry[data-kind="deploy"][data-version="v2"][data-outcome="ok"]').waitFor({ timeout: 3000 });

    const seen = await page.evaluate(() => (window as unknown as { __seen: Array<{ at: number; steps: string[]; outcome: string | null }> }).__seen);
    const history = JSON.parse((await baton.cli('history', 'web', '--json')).stdout) as { history: Array<{ kind: string; version: string; started_at: string; steps: Array<{ step: string }> }> };
    const record = history.history.find((e) => e.kind === 'deploy' && e.version === 'v2')!;
    const appearedMs = seen[0]!.at - Date.parse(record.started_at);
    const firstEventMs = seen[0]!.at - events[0]!.at;
    console.log(`dashboard: the deploy appeared ${appearedMs} ms after Baton began it (${firstEventMs} ms after the CLI read its first event); the page showed: ${seen.map((s) => `[${s.steps.join(' ')}]${s.outcome}`).join(' ')}`);
    expect(appearedMs).toBeLessThanOrEqual(1000);
    // Live: while it ran, the page showed completed steps and the one under way (migrate, 1.5 s).
    const running = seen.filter((s) => s.outcome === 'running');
    expect(running.some((s) => s.steps.includes('healthy') && s.steps.includes('migrate*'))).toBe(true);
    // And the service's state said so meanwhile.
    const states = await page.evaluate(() => [...(window as unknown as { __states: Set<string> }).__states]);
    expect(states).toContain('migrating');
    // At the end, every step of the deploy is in the timeline with its duration.
    const final = seen.at(-1)!;
    expect(final.outcome).toBe('ok');
    expect(final.steps).toEqual(record.steps.map((s) => s.step));
    expect(final.steps).toEqual(['start', 'healthy', 'migrate', 'hold', 'switch', 'resume', 'notify', 'drain', 'stop']);
    // Versions come with the status of the next tick (one a second), not with the history event.
    await expect.poll(() => page.locator('.svc[data-service="web"] [data-fact="active"]').textContent(), { timeout: 3000 }).toBe('v2');
    await expect.poll(() => page.locator('.svc[data-service="web"] [data-fact="previous"]').textContent(), { timeout: 3000 }).toBe('v1');
  }, 60_000);

  it('shows maintenance on a service while it is on, and the change in its timeline', async () => {
    const badge = (state: string) => page.locator(`.svc[data-service="api"] .badges [data-state="${state}"]`);
    expect((await baton.cli('maintenance', 'api', 'on', '--message', 'back at noon')).code).toBe(0);
    await badge('maintenance').waitFor({ timeout: 3000 });
    await expect(page.locator('.svc[data-service="api"] li.entry[data-kind="maintenance"]').first().textContent()).resolves.toContain('on: back at noon');
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-maintenance.png'), fullPage: true });
    expect((await baton.cli('maintenance', 'api', 'off')).code).toBe(0);
    await badge('serving').waitFor({ timeout: 3000 });
    await expect(badge('maintenance').count()).resolves.toBe(0);
  }, 60_000);

  it('moves the charts under load', async () => {
    const rpsChart = page.locator('.svc[data-service="web"] [data-chart="rps"] canvas');
    const before = await rpsChart.evaluate((c: HTMLCanvasElement) => c.toDataURL());
    const ticksBefore = (await state()).ticks;
    const requests = await load(`${baton.url}/version`, 8, 4000);
    // The next tick carries the last second of the load.
    await page.waitForFunction((n) => (window as unknown as { batonDashboard: DashboardState }).batonDashboard.ticks > n + 1, ticksBefore, { timeout: 5000 });
    const s = await state();
    const rps = s.series.web!.rps;
    const peak = Math.max(...rps.slice(-6));
    const after = await rpsChart.evaluate((c: HTMLCanvasElement) => c.toDataURL());
    const shown = await page.locator('.svc[data-service="web"] [data-chart="latency"] .now').textContent();
    console.log(`dashboard: ${requests} requests in 4 s, chart peak ${peak} req/s, latency now "${shown}"`);
    expect(peak).toBeGreaterThan(10);
    expect(after).not.toBe(before);
    expect(shown).toMatch(/p50 [\d.]+ms/);
    const shot = path.join(OUTPUT_DIR, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
  }, 60_000);

  it('is served on the TCP control listener behind its token (any user, the token as password)', async () => {
    const origin = `http://127.0.0.1:${tcpPort}`;
    const refused = await fetch(`${origin}/dashboard/`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
    const tcp = await browser.newContext({ httpCredentials: { username: 'me', password: TOKEN } });
    try {
      const p = await tcp.newPage();
      await p.goto(`${origin}/dashboard/`);
      await p.waitForFunction(() => (window as unknown as { batonDashboard?: DashboardState }).batonDashboard?.ready === true, undefined, { timeout: 10_000 });
      await expect(p.locator('.svc').count()).resolves.toBe(2);
    } finally {
      await tcp.close();
    }
  }, 60_000);
});
