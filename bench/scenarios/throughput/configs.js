/**
 * The configurations of scenario 1, one entry each; `kind` says how one is started
 * (scenarios/throughput/start.js). A Baton variant (another Node, metrics off, later an access
 * log or TLS) is a new entry here, not new code:
 *
 *   id, label     names in the JSON and the tables (`{node}` becomes the Node version)
 *   kind          'direct' | 'nginx' | 'haproxy' | 'baton' | 'proxy'
 *   node          Baton on a Node of this major version instead of the bench Node
 *   metrics       false: Baton with the metrics observer off the request path
 *   nodeArgs      Node options for Baton's process (e.g. a cap on V8's young generation)
 *   top, service  YAML added to Baton's config at the top level / under the service
 *   script        kind 'proxy': the comparison proxy in bench/proxies/ (run on the bench Node)
 *   workloads     only these workloads (default: every one)
 *   byDefault     false: only when named in --configs (or, for baton-node*, --baton-node)
 *   peer          true: a ratio column is computed against it (nginx, HAProxy)
 *   jit           false: native code, warmed up for less long (pools only, no JIT to settle)
 *   tls           true: also HTTPS and HTTP/2 on `ports.https` (the TLS workloads), one certificate for all
 *                 (kind 'proxy': the script gets HTTPS_PORT, CERT and KEY)
 *   forwarded     nginx: also sets the fields Baton sets (X-Forwarded-*, X-Request-Id; lib/peers.js);
 *                 kind 'proxy': the script gets FORWARDED=1 (min.mjs sets the same fields)
 */
export const CONFIGS = [
  { id: 'direct', label: 'direct (upstream alone)', kind: 'direct' },
  { id: 'nginx', label: 'nginx, 1 worker', kind: 'nginx', peer: true, jit: false, tls: true },
  // nginx doing Baton's per-request work: the same forwarded fields and a traceparent (the upstream
  // parses five more fields a request); a ratio column, beside the shared configuration's that the
  // goals are judged on.
  { id: 'nginx-fwd', label: 'nginx, 1 worker, forwarded fields', kind: 'nginx', peer: true, jit: false, tls: true, forwarded: true, workloads: ['get', 'post-1k', 'https-get', 'h2-get'] },
  { id: 'haproxy', label: 'HAProxy, 1 thread', kind: 'haproxy', peer: true, jit: false, tls: true },
  { id: 'baton', label: 'Baton (Node {node})', kind: 'baton', tls: true },
  { id: 'baton-node20', label: 'Baton (Node {node})', kind: 'baton', node: 20, byDefault: false, tls: true },
  { id: 'baton-nometrics', label: 'Baton (Node {node}), metrics off', kind: 'baton', metrics: false, workloads: ['get'] },
  // Issue 16: the access log on (a file in Baton's temp folder) against `baton` (off), at c=50.
  { id: 'baton-accesslog', label: 'Baton (Node {node}), access log', kind: 'baton', top: 'access_log:\n  path: ./access.log', workloads: ['get', 'post-1k'] },
  // The same lines written to /dev/null: the access log's own cost without the file system's.
  { id: 'baton-accesslog-null', label: 'Baton (Node {node}), access log to /dev/null', kind: 'baton', top: 'access_log:\n  path: /dev/null', workloads: ['get', 'post-1k'], byDefault: false },
  // baton and baton-accesslog with V8's young generation capped (16 MiB semi-spaces instead of the default
  // that grows to 64 MiB under load): what the cap does to throughput, p99 and RSS, log on and off.
  { id: 'baton-semi16', label: 'Baton (Node {node}), --max-semi-space-size=16', kind: 'baton', nodeArgs: ['--max-semi-space-size=16'], workloads: ['get', 'post-1k'], byDefault: false },
  { id: 'baton-accesslog-semi16', label: 'Baton (Node {node}), access log, --max-semi-space-size=16', kind: 'baton', nodeArgs: ['--max-semi-space-size=16'], top: 'access_log:\n  path: ./access.log', workloads: ['get', 'post-1k'], byDefault: false },
  { id: 'relay', label: 'bare Node relay (TCP, no HTTP)', kind: 'proxy', script: 'relay.mjs' },
  // The least an HTTP proxy on node:net does per request (min.mjs: pooled upstream, indexOf
  // parsing, bodies with a length only, no header forwarding): the floor of Baton's HTTP/1.1
  // path, where the relay is the floor of node:net alone. 256 KiB answers are left out (min
  // buffers whole answers).
  { id: 'min', label: 'minimal HTTP/1.1 proxy on node:net', kind: 'proxy', script: 'min.mjs', workloads: ['get', 'post-1k', 'close'] },
  // The same floor with the fields the contract asks Baton to add (X-Forwarded-For/-Proto/-Host,
  // X-Request-Id, and the default traceparent) and the X-Request-Id it answers with, as nginx-fwd
  // is nginx with them: what a Node proxy that does Baton's job and nothing more can reach.
  { id: 'min-fwd', label: 'minimal HTTP/1.1 proxy on node:net, forwarded fields', kind: 'proxy', script: 'min.mjs', forwarded: true, workloads: ['get', 'post-1k', 'close'] },
  // The floors of a Node proxy on the TLS workloads, beside Baton in the same run: the relay
  // behind node:tls (no HTTP), and the same minimal proxy on node:tls and node:http2 (GET only
  // over HTTP/2).
  { id: 'tls-relay', label: 'bare node:tls relay (TLS in, TCP out, no HTTP)', kind: 'proxy', script: 'relay.mjs', tls: true, workloads: ['https-get', 'tls-handshake'] },
  { id: 'tls-min', label: 'minimal proxy on node:tls and node:http2', kind: 'proxy', script: 'min.mjs', tls: true, workloads: ['https-get', 'h2-get', 'tls-handshake'] },
  { id: 'undici', label: 'undici Pool + dispatch', kind: 'proxy', script: 'undici.mjs' },
  { id: 'node-http', label: 'node:http client + Agent', kind: 'proxy', script: 'node-http.mjs' },
  { id: 'http-proxy-3', label: 'http-proxy-3', kind: 'proxy', script: 'http-proxy-3.mjs' },
];

/** Configurations where "where the time goes" counts syscalls (Baton against its references). */
export const PROFILED = ['baton', 'relay', 'nginx'];

/**
 * The configurations of a run: `ids` (--configs) or every one `byDefault`, plus Baton on
 * `batonNode` (a probed --baton-node) as `baton-node<major>`, made from the Baton entry when
 * the table has none for that major.
 */
export function selectConfigs({ ids, batonNode }) {
  const table = [...CONFIGS];
  const extra = batonNode === undefined ? undefined : `baton-node${batonNode.major}`;
  if (extra !== undefined && !table.some((c) => c.id === extra)) table.push({ id: extra, label: 'Baton (Node {node})', kind: 'baton', node: batonNode.major, byDefault: false });
  if (ids !== undefined) {
    const unknown = ids.filter((id) => !table.some((c) => c.id === id));
    if (unknown.length > 0) throw new Error(`--configs: unknown ${unknown.join(', ')} (known: ${table.map((c) => c.id).join(', ')})`);
    return table.filter((c) => ids.includes(c.id));
  }
  return table.filter((c) => c.byDefault !== false || c.id === extra);
}
