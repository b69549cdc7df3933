/**
 * The answer of a service in maintenance mode (`baton maintenance SERVICE on`): 503 with
 * Retry-After, as JSON to clients that ask for it, else as an HTML page: the service's own
 * (`maintenance.page`, where `{{message}}` is replaced) or Baton's. The message is always
 * escaped; nothing of the request is reflected.
 */
import type { Downstream } from './downstream.js';
import { fieldValue } from './headers.js';

export interface MaintenancePage {
  message: string;
  /** The service's own page, if it has one. */
  page: string | undefined;
  retryAfterS: number;
}

export function sendMaintenance(req: Downstream, m: MaintenancePage, requestId: string): number {
  const json = wantsJson(fieldValue(req.headers, 'accept'));
  const body = Buffer.from(json ? JSON.stringify({ error: { code: 'MAINTENANCE', message: m.message }, retry_after: m.retryAfterS }) + '\n' : html(m));
  req.respond(
    503,
    'Service Unavailable',
    ['content-type', json ? 'application/json' : 'text/html; charset=utf-8', 'cache-control', 'no-store', 'retry-after', String(m.retryAfterS), 'x-baton-error', 'maintenance', 'x-request-id', requestId],
    { kind: 'length', length: body.length },
  );
  if (req.method !== 'HEAD') req.write(body);
  req.end();
  return 503;
}

/** JSON when the client prefers it to HTML (an API client), HTML for browsers and everyone else. */
function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const a = accept.toLowerCase();
  return a.includes('application/json') && !a.includes('text/html');
}

function html(m: MaintenancePage): string {
  const message = escapeHtml(m.message);
  if (m.page !== undefined) return m.page.replaceAll('{{message}}', message);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Down for maintenance</title>
<style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#222}main{max-width:34em;padding:2em;text-align:center}h1{font-size:1.4em}</style></head>
<body><main><h1>Down for maintenance</h1><p>${message === '' ? 'We will be back shortly.' : message}</p></main></body>
</html>
`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
