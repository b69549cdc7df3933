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
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { settings } from './headers.mjs';

const config = settings(process.env);
const kPeer = Symbol('peer');

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
  join(client, upstream);
}

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, relay);
server.listen(config.port, config.host, () => process.stdout.write(`relay listening on ${config.host}:${config.port}\n`));

if (process.env.HTTPS_PORT !== undefined) {
  const secure = tls.createServer(
    { cert: readFileSync(process.env.CERT), key: readFileSync(process.env.KEY), minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'], allowHalfOpen: true },
    relay,
  );
  secure.on('tlsClientError', () => {});
  secure.listen(Number(process.env.HTTPS_PORT), config.host, () => process.stdout.write(`relay listening for TLS on ${config.host}:${process.env.HTTPS_PORT}\n`));
}
process.on('SIGTERM', () => process.exit(0));
