/**
 * The demo page over HTTPS and HTTP/2 in real Chromium (issue 11): the page loads over h2
 * (`nextHopProtocol`), the notice socket opens over wss:// (HTTP/1.1 by ALPN), the banner
 * appears after a deploy, and a reload shows the new version. Chromium trusts only the test
 * certificate, by its public key: `--ignore-certificate-errors-spki-list`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configYaml, removeDir, startBaton, type RunningBaton } from '../helpers/baton.js';
import { issueCert, makeCa } from '../helpers/tls.js';
import { browserAvailable, launchBrowser } from './helpers.js';
import { deployStreaming, freePort } from './e2e-helpers.js';

const availability = browserAvailable();
const runBrowserTests = availability.ok || process.env.CI === 'true';
if (!runBrowserTests) console.warn(`browser HTTPS tests skipped: ${availability.reason}`);

describe.skipIf(!runBrowserTests)('the demo page over HTTPS and HTTP/2, in Chromium', () => {
  let dir: string;
  let certFile: string;
  let keyFile: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let baton: RunningBaton | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'baton-browser-tls-'));
    const cert = issueCert(makeCa(dir), 'site', ['localhost']);
    certFile = cert.certFile;
    keyFile = cert.keyFile;
    const spki = new X509Certificate(cert.pem).publicKey.export({ type: 'spki', format: 'der' });
    browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${createHash('sha256').update(spki).digest('base64')}`]);
    context = await browser.newContext({ viewport: { width: 960, height: 640 } });
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await removeDir(dir);
  });

  afterEach(async () => {
    if (baton !== undefined) {
      await baton.stop();
      await removeDir(baton.dir);
    }
    baton = undefined;
  });

  it('loads over h2, shows the banner after a deploy, and a reload shows the new version', async () => {
    const tlsPort = await freePort();
    const top = `tls:\n  listen: 127.0.0.1:${tlsPort}\n  certificates:\n    - { cert: ${certFile}, key: ${keyFile} }\n`;
    baton = await startBaton(configYaml({ web: { extra: 'drain:\n  timeout: 3s\n  websocket_grace: 500ms' } }, top));
    // Plain HTTP redirects to the TLS port: the browser follows it.
    await page.goto(`http://localhost:${baton.port}/`);
    expect(page.url()).toBe(`https://localhost:${tlsPort}/`);
    const protocol = (): Promise<string> => page.evaluate(() => (performance.getEntries()[0] as PerformanceNavigationTiming).nextHopProtocol);
    expect(await protocol()).toBe('h2');
    await expect(page.locator('#version').textContent()).resolves.toBe('v1');
    await page.waitForFunction(() => (window as unknown as { Baton?: { state: string } }).Baton?.state === 'open', undefined, { timeout: 5000 });

    const deploy = deployStreaming(baton.socket, 'web', 'v2');
    await deploy.switched;
    await page.locator('baton-notice').getByText('A new version (v2) is live.', { exact: true }).waitFor({ timeout: 2000 });
    expect((await deploy.done).code).toBe(0);

    await page.locator('baton-notice').getByRole('button', { name: 'Reload' }).click({ timeout: 1000 });
    await page.locator('#version', { hasText: 'v2' }).waitFor({ timeout: 5000 });
    expect(await protocol()).toBe('h2');
    expect(page.url()).toBe(`https://localhost:${tlsPort}/`);
  }, 60_000);
});
