/**
 * Real Chromium for browser tests, through playwright-core and Debian's `chromium` package
 * (`apt-get install -y chromium`); playwright's own browser downloads are not used.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Whether Chromium can be launched here; `reason` says why not, for a printed skip. */
export function browserAvailable(): { ok: boolean; reason?: string } {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return { ok: true };
  } catch {
    return { ok: false, reason: `${CHROMIUM_PATH} not found or not executable (apt-get install -y chromium)` };
  }
}

/** Launches headless Chromium (with `extraArgs`, e.g. a test certificate to trust); the caller closes it. */
export function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30_000 });
}
