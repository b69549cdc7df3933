/**
 * What the end-to-end browser tests need beyond test/helpers/baton.ts: a browser, context and
 * page per test, a deploy whose NDJSON events are timestamped as they are read, Baton's own log
 * time of a switch, a fixed free port (so a restarted Baton keeps the page's origin) and an
 * in-page recorder.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { CLI, removeDir, type RunningBaton } from '../helpers/baton.js';
import { launchBrowser } from './helpers.js';

/** What {@link chromiumPerTest} keeps: the file's browser, this test's context and page, the Batons this test started. */
export interface BrowserTest {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Push every Baton the test starts: each is stopped, and its folder removed, after the test. */
  batons: RunningBaton[];
}

/**
 * Registers its hooks in the calling describe: one Chromium for all its tests, and per test a
 * new context (960x640, with {@link RECORDER}) and page, closed after it with the Batons it started.
 */
export function chromiumPerTest(): BrowserTest {
  const t = { batons: [] as RunningBaton[] } as BrowserTest;
  beforeAll(async () => {
    t.browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await t.browser?.close();
  });
  beforeEach(async () => {
    t.context = await t.browser.newContext({ viewport: { width: 960, height: 640 } });
    await t.context.addInitScript(RECORDER);
    t.page = await t.context.newPage();
  });
  afterEach(async () => {
    await t.context?.close();
    for (const b of t.batons) await b.stop();
    for (const dir of new Set(t.batons.map((b) => b.dir))) await removeDir(dir);
    t.batons = [];
  });
  return t;
}

/** One NDJSON event of `baton deploy --json`, with the wall-clock time it was read. */
export interface TimedEvent {
  event: Record<string, unknown>;
  at: number;
}

export interface StreamingDeploy {
  /** Resolves with the time (Date.now()) the `switch` event was read; rejects if the deploy ended without one. */
  switched: Promise<number>;
  /** Resolves once the CLI exits. */
  done: Promise<{ code: number | null; events: TimedEvent[]; stderr: string }>;
}

/** `baton deploy SERVICE VERSION --json`, reading its events as they come. */
export function deployStreaming(socket: string, service: string, version: string, timeoutMs = 60_000): StreamingDeploy {
  const child = spawn(process.execPath, [CLI, 'deploy', service, version, '--json', '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: TimedEvent[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let onSwitch: (at: number) => void = () => {};
  let noSwitch: (err: Error) => void = () => {};
  const switched = new Promise<number>((resolve, reject) => {
    onSwitch = resolve;
    noSwitch = reject;
  });
  switched.catch(() => {}); // a failing deploy need not be awaited for its switch
  createInterface({ input: child.stdout }).on('line', (line) => {
    const at = Date.now();
    if (line.trim() === '') return;
    const event = JSON.parse(line) as Record<string, unknown>;
    events.push({ event, at });
    if (event.step === 'switch') onSwitch(at);
  });
  const done = new Promise<{ code: number | null; events: TimedEvent[]; stderr: string }>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      noSwitch(new Error(`deploy of ${version} ended (${code}) without a switch event: ${stderr}`));
      resolve({ code, events, stderr });
    });
  });
  return { switched, done };
}

/** The `time` of Baton's "switch step completed" log line for a swap to `version`. */
export function loggedSwitchTime(output: string, version: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"step":"switch"')) continue;
    try {
      const rec = JSON.parse(line) as { step?: string; to?: string; time?: number };
      if (rec.step === 'switch' && rec.to === version && typeof rec.time === 'number') return rec.time;
    } catch {
      // not a JSON log line
    }
  }
  return undefined;
}

/** A loopback port that was free a moment ago. */
export { freePort } from '../../src/runtime/free-port.js';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** What the in-page recorder saw (see RECORDER). */
export interface PageRecord {
  /** Each Baton message, with the banner's text right after the client handled it (null: no banner). */
  messages: Array<{ type: string; version?: string; message?: string; at: number; banner: string | null }>;
  /** Each text the demo page's WebSocket state (#ws-state) took, in order. */
  wsState: Array<{ at: number; text: string }>;
}

/**
 * Runs in the page before its own scripts (page.addInitScript). It listens to Baton's window
 * events; the microtask runs once the client has handled the message (it renders the banner in
 * the same task that dispatches), so `banner` and `at` are what the visitor got and when.
 */
export const RECORDER = `(() => {
  const rec = { messages: [], wsState: [] };
  window.__rec = rec;
  addEventListener('baton:message', (e) => {
    const d = e.detail;
    queueMicrotask(() => {
      const el = document.querySelector('baton-notice');
      const text = el && el.isConnected ? el.shadowRoot.querySelector('.text').textContent : null;
      rec.messages.push({ type: d.type, version: d.version, message: d.message, at: Date.now(), banner: text });
    });
  });
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const el = m.target.nodeType === 3 ? m.target.parentElement : m.target;
      if (el && el.id === 'ws-state') rec.wsState.push({ at: Date.now(), text: el.textContent });
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();`;
