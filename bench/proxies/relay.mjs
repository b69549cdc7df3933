// The bare Node relay: the floor a Node proxy can reach. Raw TCP, no HTTP: each client
// connection gets one upstream connection of its own, and bytes are copied both ways with
// `data` listeners and backpressure (pause until `drain`). Per keep-alive request that is the
// minimum any Node HTTP proxy must do (2 reads, 2 writes) and nothing else; with a connection
// per request it also connects upstream per request (a pooling proxy would not).
//
//   PORT=8080 UPSTREAM_PORT=9000 node bench/proxies/relay.mjs
import net from 'node:net';
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

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
  const upstream = net.connect({ host: config.upstream.host, port: config.upstream.port, allowHalfOpen: true, noDelay: true });
  join(client, upstream);
});
server.listen(config.port, config.host, () => process.stdout.write(`relay listening on ${config.host}:${config.port}\n`));
process.on('SIGTERM', () => process.exit(0));
