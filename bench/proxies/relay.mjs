// The bare Node relay: the floor a Node proxy can reach. Raw TCP, no HTTP: each client
// connection gets one upstream connection of its own, and bytes are copied both ways with
// `data` listeners and backpressure (pause until `drain`). Per keep-alive request that is the
// minimum any Node HTTP proxy must do (2 reads, 2 writes) and nothing else; with a connection
// per request it also connects upstream per request (a pooling proxy would not).
//
// With HTTPS_PORT, CERT and KEY it also listens for TLS there (node:tls, TLS 1.2-1.3, ALPN
// http/1.1, node's own session tickets) and relays the decrypted bytes the same way: the floor
// of a Node proxy on the HTTPS/1.1 and new-TLS-connection workloads (the `tls-relay`
// configuration).
//
//   PORT=8080 UPSTREAM_PORT=9000 node bench/proxies/relay.mjs
//   PORT=8080 HTTPS_PORT=8443 CERT=site.pem KEY=site.key UPSTREAM_PORT=9000 node bench/proxies/relay.mjs
//
// Busy work per request, off unless set (bench/neighbour.js uses it to make the relay cost what
// a real proxy costs, one kind of cost at a time), done on each chunk from the client, which for
// a small keep-alive request is one per request:
//   RELAY_SPIN_US=N          spin the CPU for N µs (no allocation)
//   RELAY_GARBAGE_BYTES=N    allocate ~N bytes of small objects that die by the next chunk
// Both may be set (the allocation first). Bad values exit with a message naming the variable.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { settings } from './headers.mjs';

const config = settings(process.env);
const kPeer = Symbol('peer');

function knob(name) {
  const text = process.env[name];
  if (text === undefined || text === '') return 0;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`relay: ${name} must be a number >= 0, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}
const spinUs = knob('RELAY_SPIN_US');
// One garbage node: { next, a, b, c } with small-integer fields is 56 bytes of V8 heap on x64
// (map, properties, elements, 4 in-object fields; checked with process.memoryUsage()).
const NODE_BYTES = 56;
const garbageNodes = Math.round(knob('RELAY_GARBAGE_BYTES') / NODE_BYTES);

// Held until the next chunk replaces it, so the allocation cannot be optimised away and dies
// young, as a proxy's per-request objects do.
let garbage = null;
function busyWork() {
  if (garbageNodes > 0) {
    let head = null;
    for (let i = 0; i < garbageNodes; i++) head = { next: head, a: i, b: i, c: i };
    garbage = head;
  }
  if (spinUs > 0) {
    const end = performance.now() + spinUs / 1000;
    while (performance.now() < end);
  }
}
function onClientData() {
  busyWork();
}

function onData(chunk) {
  if (!this[kPeer].write(chunk)) {
    this.pause();
    this[kPeer].once('drain', onDrain);
  }
}
function onDrain() {
  this[kPeer].resume();
}
// A FIN from one side is passed on after what is still queued for the other.
function onEnd() {
  this[kPeer].end();
}
function onClose(hadError) {
  if (hadError || this[kPeer].writableFinished || !this[kPeer].writable) this[kPeer].destroy();
}
function onError() {
  this.destroy();
  this[kPeer].destroy();
}

function join(a, b) {
  a[kPeer] = b;
  b[kPeer] = a;
  for (const s of [a, b]) {
    s.setNoDelay(true);
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('close', onClose);
    s.on('error', onError);
  }
}

function relay(client) {
  const upstream = net.connect({ host: config.upstream.host, port: config.upstream.port, allowHalfOpen: true, noDelay: true });
  // Before join's listener, so the work is done before the chunk is passed on.
  if (spinUs > 0 || garbageNodes > 0) client.on('data', onClientData);
  join(client, upstream);
}

const work = spinUs > 0 || garbageNodes > 0 ? ` (per client chunk: spin ${spinUs} µs, ${garbageNodes * NODE_BYTES} bytes of garbage)` : '';
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, relay);
server.listen(config.port, config.host, () => process.stdout.write(`relay listening on ${config.host}:${config.port}${work}\n`));

if (process.env.HTTPS_PORT !== undefined) {
  const secure = tls.createServer(
    { cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY), minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'], allowHalfOpen: true },
    relay,
  );
  secure.on('tlsClientError', () => {});
  secure.listen(Number(process.env.HTTPS_PORT), config.host, () => process.stdout.write(`relay listening for TLS on ${config.host}:${process.env.HTTPS_PORT}\n`));
}
process.on('SIGTERM', () => process.exit(0));
