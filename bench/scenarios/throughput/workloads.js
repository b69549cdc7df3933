/**
 * The workloads of scenario 1, one entry each. A new workload is a new entry here, not new code:
 *
 *   id, label     names in the JSON and the tables
 *   c             connections
 *   request       { method, path, bodyBytes, close } (close: `Connection: close`, one request per
 *                 connection); the upstream (bench/apps/upstream.cjs) answers ~100 bytes on any
 *                 path and N bytes on /bytes/N
 *   tool          'wrk' (default; the Node generator when wrk is missing) or 'h2load'
 *   scheme, port  'http' and the target's `ports.http` by default; a TLS workload says
 *                 scheme 'https', port 'https' (plus h2loadArgs) and runs on the targets that
 *                 have such a port
 *   configs       only these configurations (default: every one in the run)
 *   goal          Baton's target against a peer, judged on the bench Node:
 *                 { vs: 'nginx', min: 0.75 }
 *   profile       false: no "where the time goes" pass for it
 */
export const WORKLOADS = [
  {
    id: 'get',
    label: 'small GET, keep-alive',
    c: 50,
    request: { method: 'GET', path: '/' },
    goal: { vs: 'nginx', min: 0.75 },
  },
  {
    // Issue 5's tail check (no timeouts, p99 < 150 ms) on the configurations it was judged on.
    id: 'get-c200',
    label: 'small GET, keep-alive',
    c: 200,
    request: { method: 'GET', path: '/' },
    configs: ['direct', 'nginx', 'haproxy', 'baton'],
    profile: false,
  },
  {
    id: 'post-1k',
    label: 'POST, 1 KiB body, keep-alive',
    c: 50,
    request: { method: 'POST', path: '/', bodyBytes: 1024 },
    goal: { vs: 'nginx', min: 0.75 },
  },
  {
    id: 'get-256k',
    label: '256 KiB responses, keep-alive',
    c: 10,
    request: { method: 'GET', path: '/bytes/262144' },
    goal: { vs: 'nginx', min: 1.0 },
  },
  {
    id: 'close',
    label: 'new connection per request (Connection: close)',
    c: 50,
    request: { method: 'GET', path: '/', close: true },
    goal: { vs: 'nginx', min: 0.6 },
  },
  // TLS (issue 11): on the configurations with `tls: true` (nginx, HAProxy, Baton), one certificate.
  {
    id: 'https-get',
    label: 'HTTPS/1.1 small GET, keep-alive',
    c: 50,
    scheme: 'https',
    port: 'https',
    request: { method: 'GET', path: '/' },
    goal: { vs: 'nginx', min: 0.7 },
  },
  {
    id: 'h2-get',
    label: 'HTTP/2 small GET (h2load, 1 stream per connection)',
    c: 50,
    tool: 'h2load',
    scheme: 'https',
    port: 'https',
    request: { method: 'GET', path: '/' },
    goal: { vs: 'nginx', min: 0.7 },
  },
  {
    // A new TLS connection per request. wrk offers the session ticket it last got, so most of
    // these are resumed handshakes (TLS 1.3 PSK with ECDHE): nginx resumed 2709 of 2714 in a
    // check with its $ssl_session_reused, a node:tls server about half (the other half are full
    // handshakes). A full-handshake rate needs servers with tickets off or a client that never resumes.
    id: 'tls-handshake',
    label: 'new TLS connection per request (wrk resumes when it can)',
    c: 50,
    scheme: 'https',
    port: 'https',
    request: { method: 'GET', path: '/', close: true },
    goal: { vs: 'nginx', min: 0.8 },
  },
];

/** The workloads of a run: `ids` (--workloads) or all of them, in table order. */
export function selectWorkloads(ids) {
  if (ids === undefined) return WORKLOADS;
  const unknown = ids.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length > 0) throw new Error(`--workloads: unknown ${unknown.join(', ')} (known: ${WORKLOADS.map((w) => w.id).join(', ')})`);
  return WORKLOADS.filter((w) => ids.includes(w.id));
}
