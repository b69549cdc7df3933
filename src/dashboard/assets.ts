/**
 * The dashboard's files, served by the control API under /dashboard/ (issue 16): made once
 * from constants, no file system access, no build step.
 */
import { createHash } from 'node:crypto';
import { PAGE_HTML } from './page.js';
import { PAGE_CSS } from './style.js';
import { PAGE_JS } from './app.js';

export interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

function asset(type: string, text: string): Asset {
  const body = Buffer.from(text);
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['index.html', asset('text/html; charset=utf-8', PAGE_HTML)],
  ['app.css', asset('text/css; charset=utf-8', PAGE_CSS)],
  ['app.js', asset('text/javascript; charset=utf-8', PAGE_JS)],
]);

/** The file named `name` (relative to /dashboard/), if it is one. */
export function dashboardAsset(name: string): Asset | undefined {
  return ASSETS.get(name);
}

/** Bytes of the page and its assets together (reported by the tests). */
export function dashboardBytes(): number {
  let n = 0;
  for (const a of ASSETS.values()) n += a.body.length;
  return n;
}
