/**
 * Maintenance mode and a migration's hold as a visitor sees them (issue 13), end to end: real
 * Chromium, a real Baton (the CLI as a child process, process runtime), the demo app (through
 * test/fixtures/app.js) under a load of keep-alive clients.
 */
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configYaml, startBaton, type RunningBaton } from '../helpers/baton.js';
import { request as control } from '../../src/cli/client.js';
import type { StatusBody } from '../../src/control/protocol.js';
import { browserAvailable } from './helpers.js';
import { chromiumPerTest, deployStreaming, freePort, type PageRecord } from './e2e-helpers.js';

const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));

const availability = browserAvailable();
const runBrowserTests = availability.ok || process.env.CI === 'true';
if (!runBrowserTests) console.warn(`browser maintenance tests skipped: ${availability.reason}`);

/** HTML's special characters, and a script that must never run. */
const MESSAGE = `Upgrading the <b>database</b> & "notes" 'table' <script>alert(1)</script>`;
/** A migration of about two seconds, as the new version (the process runtime runs it with the version's env). */
const MIGRATION_MS = 2000;
const SLOW_MIGRATION = ['node', '-e', `console.log('migrating to ' + process.env.BATON_VERSION); setTimeout(() => console.log('migration done'), ${MIGRATION_MS})`];

/** Keep-alive clients sending GET /version until stopped: every answer's status and Retry-After. */
function load(port: number, clients = 8): { stop: () => Promise<Array<{ status: number; retryAfter?: string; error?: string }>> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const results: Array<{ status: number; retryAfter?: string; error?: string }> = [];
  let running = true;
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/version', agent, headers: { accept: 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => {
          results.push({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined });
          resolve();
        });
      });
      req.on('error', (err) => {
        results.push({ status: -1, error: err.message });
        resolve();
      });
    });
  const loops = Array.from({ length: clients }, async () => {
    const hardStop = performance.now() + 60_000;
    while (running && performance.now() < hardStop) await once();
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return results;
    },
  };
}

describe.skipIf(!runBrowserTests)('maintenance and a migration, in Chromium', () => {
  const chrome = chromiumPerTest();

  async function start(extra: string): Promise<RunningBaton> {
    const port = await freePort();
    const yaml = configYaml({ web: { extra: `drain:\n  timeout: 3s\n  websocket_grace: 500ms\n${extra}` } }).replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`);
    const b = await startBaton(yaml);
    chrome.batons.push(b);
    return b;
  }

  async function open(baton: RunningBaton): Promise<void> {
    await chrome.page.goto(baton.url + '/');
    await chrome.page.waitForFunction(() => (window as unknown as { Baton?: { state: string } }).Baton?.state === 'open', undefined, { timeout: 5000 });
  }

  const banner = () => chrome.page.locator('baton-notice');
  const record = (): Promise<PageRecord> => chrome.page.evaluate(() => (window as unknown as { __rec: PageRecord }).__rec);
  const state = async (b: RunningBaton): Promise<string> => ((await control(b.socket, 'GET', '/v1/status')).body as StatusBody).services.web!.state;

  it('on: the open page gets the notice, a new load gets the 503 page with the message escaped and Retry-After; off: a reload shows the app', async () => {
    const baton = await start('maintenance:\n  retry_after: 45s');
    const clients = load(baton.port);
    await open(baton);
    await expect(chrome.page.locator('#version').textContent()).resolves.toBe('v1');
    const alerts: string[] = [];
    chrome.page.on('dialog', (d) => {
      alerts.push(d.message());
      void d.dismiss();
    });

    const on = await baton.cli('maintenance', 'web', 'on', '--message', MESSAGE);
    expect(on.code, on.stderr).toBe(0);
    // The open page: the banner, its text the message as text (no element made of it).
    await banner().getByText(MESSAGE, { exact: true }).waitFor({ timeout: 2000 });
    expect(await chrome.page.evaluate(() => document.querySelector('baton-notice')!.shadowRoot!.querySelector('.text')!.children.length)).toBe(0);

    // A second tab loads the page anew: Baton's maintenance page.
    const second = await chrome.context.newPage();
    second.on('dialog', (d) => {
      alerts.push(d.message());
      void d.dismiss();
    });
    const res = await second.goto(baton.url + '/');
    expect(res!.status()).toBe(503);
    expect(res!.headers()['retry-after']).toBe('45');
    expect(res!.headers()['content-type']).toBe('text/html; charset=utf-8');
    expect(await second.title()).toBe('Down for maintenance');
    expect(await second.locator('main p').textContent()).toBe(MESSAGE);
    expect(await second.locator('main b, main script').count()).toBe(0);
    expect(await res!.text()).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await second.screenshot({ path: `${OUTPUT_DIR}maintenance-chrome.page.png` });
    await second.close();

    const off = await baton.cli('maintenance', 'web', 'off');
    expect(off.code, off.stderr).toBe(0);
    const reloaded = await chrome.page.reload();
    expect(reloaded!.status()).toBe(200);
    await expect(chrome.page.locator('#version').textContent()).resolves.toBe('v1');
    await chrome.page.waitForTimeout(200);
    const results = await clients.stop();

    expect(alerts).toEqual([]);
    // Under load: 200s, then the maintenance answer (with its Retry-After), then 200s again; nothing else.
    const other = results.filter((r) => r.status !== 200 && !(r.status === 503 && r.retryAfter === '45'));
    console.log(`[maintenance] requests=${results.length} maintenance_503=${results.filter((r) => r.status === 503).length} other=${other.length}`);
    expect(other.slice(0, 3)).toEqual([]);
    expect(results.some((r) => r.status === 503)).toBe(true);
    expect(results.at(-1)!.status).toBe(200);
  }, 60_000);

  it('"Updating…" shows while a migration holds requests; a request sent from the page meanwhile is answered by the new version', async () => {
    const baton = await start(`migrate:\n  command: ${JSON.stringify(SLOW_MIGRATION)}\n  timeout: 30s`);
    await open(baton);
    const deploy = deployStreaming(baton.socket, 'web', 'v2');
    let migrateStartedAt: number | undefined;
    for (let i = 0; i < 400 && migrateStartedAt === undefined; i++) {
      const swapping = ((await control(baton.socket, 'GET', '/v1/status')).body as StatusBody).services.web!.swapping;
      if (swapping?.step === 'migrate') migrateStartedAt = swapping.step_started_at;
      else await chrome.page.waitForTimeout(25);
    }
    expect(await state(baton)).toBe('migrating');

    // Chromium shows the discreet banner, and a fetch from the page waits in the hold.
    await banner().getByText('Updating…', { exact: true }).waitFor({ timeout: 1000 });
    const held = chrome.page.evaluate(async () => {
      const res = await fetch('/version', { cache: 'no-store' });
      return { status: res.status, version: ((await res.json()) as { version: string }).version, at: Date.now() };
    });
    const queued = async (): Promise<number> => ((await control(baton.socket, 'GET', '/v1/status')).body as StatusBody).services.web!.queued;
    for (let i = 0; i < 40 && (await queued()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await queued(), 'the page\'s request waits in the hold').toBeGreaterThanOrEqual(1);
    expect(await state(baton)).toBe('migrating');
    await deploy.switched;
    const answer = await held;
    expect(answer).toMatchObject({ status: 200, version: 'v2' });
    // Answered by v2 only once the migration was over: its own timer (MIGRATION_MS) had run out.
    expect(answer.at).toBeGreaterThanOrEqual(migrateStartedAt! + MIGRATION_MS * 0.99);
    await banner().getByText('A new version (v2) is live.', { exact: true }).waitFor({ timeout: 2000 });

    const { code, events } = await deploy.done;
    expect(code).toBe(0);
    expect(events.map((e) => e.event.step).filter(Boolean)).toEqual(['start', 'healthy', 'hold', 'quiesce', 'migrate', 'switch', 'resume', 'notify', 'drain', 'stop']);
    expect(events.find((e) => e.event.step === 'resume')!.event.released).toBeGreaterThanOrEqual(1);
    const seen = (await record()).messages.map((m) => ({ type: m.type, banner: m.banner }));
    expect(seen).toEqual([
      { type: 'deploying', banner: 'Updating…' },
      { type: 'deployed', banner: 'A new version (v2) is live.' },
    ]);
  }, 60_000);
});
