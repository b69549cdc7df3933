/**
 * /_baton/client.js in real Chromium, against a tiny notice server (node:http + ws on port 0)
 * that stands in for Baton: no proxy is needed.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { clientScript } from '../../src/notify/client-script.js';
import { browserAvailable, launchBrowser } from './helpers.js';

const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));

const availability = browserAvailable();
const runBrowserTests = availability.ok || process.env.CI === 'true';
if (!runBrowserTests) console.warn(`browser tests skipped: ${availability.reason}`);

type NoticeMessage = { type: string; service: string; version: string; message?: string };

/** Pages the notice server serves; each records window events before the client script runs. */
const PAGES: Record<string, string> = {
  '/': '<script src="/_baton/client.js" defer></script>',
  '/banner-off': '<script src="/_baton/client.js" data-banner="off" defer></script>',
  '/config-off': '<script>window.BatonConfig = { banner: false };</script><script src="/_baton/client.js" defer></script>',
  '/twice': '<script src="/_baton/client.js" defer></script><script src="/_baton/client.js" defer></script>',
};

function pageHtml(scripts: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>client.js test</title>
<link rel="icon" href="data:,">
<script>
  window.__events = [];
  window.__deployed = 0;
  addEventListener('baton:message', function (e) { window.__events.push(e.detail); });
  addEventListener('baton:deployed', function () { window.__deployed++; });
</script>
${scripts}
<style>body{font:16px system-ui,sans-serif;margin:40px;color:#222}</style>
</head><body><h1>An app page</h1><p>Baton's banner appears bottom-right, above the page, without blocking it.</p></body></html>`;
}

/** A stand-in for Baton's public listener: the pages, /_baton/client.js and the /_baton/ws hub. */
class NoticeServer {
  /** WebSockets accepted so far. */
  connections = 0;
  /** The most sockets ever open at the same time, counted as each one connects. */
  maxOpen = 0;
  url = '';
  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor() {
    this.http = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://test.invalid').pathname;
      if (path === '/_baton/client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(clientScript());
      } else if (PAGES[path] !== undefined) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pageHtml(PAGES[path]));
      } else {
        res.writeHead(404).end();
      }
    });
    this.http.on('upgrade', (req, socket, head) => {
      if (req.url !== '/_baton/ws') return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.connections++;
        this.maxOpen = Math.max(this.maxOpen, this.sockets().length);
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  /** Sockets in the OPEN state (one the server is closing is CLOSING at once, so never counted twice). */
  sockets(): WebSocket[] {
    return [...this.wss.clients].filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  broadcast(msg: NoticeMessage): void {
    for (const ws of this.sockets()) ws.send(JSON.stringify(msg));
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

/** Polls `cond` every 10 ms; rejects naming `what` after `timeoutMs`. */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface TestWindow {
  __events: NoticeMessage[];
  __deployed: number;
  __xss?: number;
  Baton: { state: string; lastMessage: NoticeMessage | null; onMessage(cb: (m: NoticeMessage) => void): () => void };
}

describe.skipIf(!runBrowserTests)('client.js in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let server: NoticeServer;

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    server = new NoticeServer();
    await server.listen();
    context = await browser.newContext({ viewport: { width: 800, height: 450 } });
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
    await server?.close();
  });

  /** Opens `path` and waits until its notice socket is open on both sides. */
  async function openPage(path = '/'): Promise<void> {
    await page.goto(server.url + path);
    await until(() => server.sockets().length === 1, 'the page to connect to /_baton/ws');
    await page.waitForFunction(() => (window as unknown as TestWindow).Baton?.state === 'open', undefined, { timeout: 5000 });
  }

  const banner = () => page.locator('baton-notice');

  it('shows "A new version (v2) is live." within 1 s of a deployed message', async () => {
    await openPage();
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });

    await banner().getByText('A new version (v2) is live.', { exact: true }).waitFor({ timeout: 1000 });
    await expect(banner().getByRole('status').textContent()).resolves.toContain('A new version (v2) is live.');
    await expect(banner().getByRole('button', { name: 'Reload' }).isVisible()).resolves.toBe(true);

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.waitForTimeout(300); // let the entrance animation settle before the picture
    await page.screenshot({ path: `${OUTPUT_DIR}banner.png` });
  });

  it('adds one global, window.Baton, and registers no custom element', async () => {
    await openPage();
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });
    await banner().getByText('A new version (v2) is live.').waitFor({ timeout: 1000 });
    // Compared with a blank frame's globals: whatever the script left on window.
    const added = await page.evaluate(() => {
      const frame = document.createElement('iframe');
      document.body.appendChild(frame);
      const builtins = new Set(Object.keys(frame.contentWindow as object));
      frame.remove();
      return Object.keys(window).filter((k) => !builtins.has(k) && !k.startsWith('__'));
    });
    expect(added).toEqual(['Baton']);
    expect(await page.evaluate(() => customElements.get('baton-notice') === undefined)).toBe(true);
  });

  it('animates the banner in, except under prefers-reduced-motion', async () => {
    const animationOf = () =>
      page.evaluate(() => {
        const box = document.querySelector('baton-notice')?.shadowRoot?.querySelector('[role="status"]');
        return box ? getComputedStyle(box).animationName : 'no banner';
      });
    await openPage();
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });
    await banner().getByText('A new version (v2) is live.').waitFor({ timeout: 1000 });
    expect(await animationOf()).not.toBe('none');

    await page.emulateMedia({ reducedMotion: 'reduce' });

    expect(await animationOf()).toBe('none');
  });

  it('removes the banner when its dismiss button is clicked', async () => {
    await openPage();
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });
    await banner().getByText('A new version (v2) is live.').waitFor({ timeout: 1000 });

    await banner().getByRole('button', { name: 'Dismiss' }).click();

    await banner().waitFor({ state: 'detached', timeout: 1000 });
  });

  it('reloads the page when Reload is clicked', async () => {
    await openPage();
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });

    await banner().getByRole('button', { name: 'Reload' }).click({ timeout: 1000 });

    await until(() => server.connections === 2, 'the reloaded page to connect again');
    await page.waitForFunction(() => (window as unknown as TestWindow).__events.length === 0 && (window as unknown as TestWindow).Baton?.state === 'open');
  });

  it('shows the text of a notice without interpreting HTML in it', async () => {
    const message = '<img src=x onerror="window.__xss=1"><b>Maintenance</b> at 17:00';
    await openPage();
    server.broadcast({ type: 'notice', service: 'web', version: 'v1', message });

    await banner().getByText(message, { exact: true }).waitFor({ timeout: 1000 });
    const injected = await page.evaluate(() => {
      const root = document.querySelector('baton-notice')?.shadowRoot;
      return { elements: root?.querySelectorAll('img, b').length, xss: (window as unknown as TestWindow).__xss };
    });
    expect(injected).toEqual({ elements: 0, xss: undefined });
  });

  it('shows "Updating…" on deploying and clears it on deploy_failed', async () => {
    await openPage();
    server.broadcast({ type: 'deploying', service: 'web', version: 'v2' });
    await banner().getByText('Updating…').waitFor({ timeout: 1000 });

    server.broadcast({ type: 'deploy_failed', service: 'web', version: 'v2' });

    await banner().waitFor({ state: 'detached', timeout: 1000 });
  });

  it('data-banner="off" shows no banner but still fires baton:message and baton:deployed', async () => {
    await openPage('/banner-off');
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });

    await page.waitForFunction(() => (window as unknown as TestWindow).__events.length === 1, undefined, { timeout: 1000 });
    // The banner would have been rendered in the same task that dispatched the event.
    expect(await banner().count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as TestWindow).__events[0])).toEqual({ type: 'deployed', service: 'web', version: 'v2' });
    expect(await page.evaluate(() => (window as unknown as TestWindow).__deployed)).toBe(1);
  });

  it('window.BatonConfig = { banner: false } shows no banner', async () => {
    await openPage('/config-off');
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });

    await page.waitForFunction(() => (window as unknown as TestWindow).__events.length === 1, undefined, { timeout: 1000 });
    expect(await banner().count()).toBe(0);
  });

  it('Baton.onMessage callbacks receive messages until unsubscribed', async () => {
    await openPage();
    await page.evaluate(() => {
      const w = window as unknown as { __got: string[]; __off: () => void } & TestWindow;
      w.__got = [];
      w.__off = w.Baton.onMessage((m) => w.__got.push(m.type));
    });
    server.broadcast({ type: 'deploying', service: 'web', version: 'v2' });
    await page.waitForFunction(() => (window as unknown as { __got: string[] }).__got.length === 1, undefined, { timeout: 1000 });

    await page.evaluate(() => (window as unknown as { __off: () => void }).__off());
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });
    await page.waitForFunction(() => (window as unknown as TestWindow).__events.length === 2, undefined, { timeout: 1000 });

    expect(await page.evaluate(() => (window as unknown as { __got: string[] }).__got)).toEqual(['deploying']);
  });

  it('reconnects one socket at a time after the server closes it, and receives the next message', async () => {
    await openPage();

    server.sockets()[0]?.close(1012, 'restart');
    await until(() => server.connections === 2, 'the page to reconnect');
    await page.waitForFunction(() => (window as unknown as TestWindow).Baton.state === 'open', undefined, { timeout: 5000 });
    server.broadcast({ type: 'notice', service: 'web', version: 'v2', message: 'after reconnect' });

    await page.waitForFunction(() => (window as unknown as TestWindow).Baton.lastMessage?.message === 'after reconnect', undefined, { timeout: 1000 });
    await sleep(300);
    expect({ connections: server.connections, maxOpen: server.maxOpen }).toEqual({ connections: 2, maxOpen: 1 });
  }, 15_000);

  it('opens a single socket and dispatches once when included twice', async () => {
    await openPage('/twice');
    await sleep(500);
    server.broadcast({ type: 'deployed', service: 'web', version: 'v2' });

    await page.waitForFunction(() => (window as unknown as TestWindow).__events.length >= 1, undefined, { timeout: 1000 });
    await sleep(100);
    expect(server.connections).toBe(1);
    expect(await page.evaluate(() => (window as unknown as TestWindow).__events.length)).toBe(1);
    expect(await banner().count()).toBe(1);
  });
});
