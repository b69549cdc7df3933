// The app process of the end-to-end replay (test/integration/differential.test.ts): Baton runs
// it as a service and sends it requests; it pipes every connection, byte for byte, to the raw
// logging upstream in the test process (REPLAY_UPSTREAM_PORT), so that process sees exactly
// what Baton forwarded. Ends pass through both ways; when Baton's side breaks, what it wrote
// is still flushed to the logging upstream (never dropped: it is the evidence).
import net from 'node:net';

const target = Number(process.env.REPLAY_UPSTREAM_PORT);
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
  const upstream = net.connect({ port: target, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
  client.on('error', () => upstream.end());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.end());
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
