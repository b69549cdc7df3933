// The fast-starting app of the swap scenario: GET answers a small JSON naming its version,
// POST echoes the body, /healthz answers once listening. On SIGTERM it stops accepting, closes
// idle keep-alive connections, lets in-flight requests finish and exits.
import http from 'node:http';

const version = process.env.BATON_VERSION ?? 'dev';
const small = Buffer.from(JSON.stringify({ version, ok: true }) + '\n');
let closing = false;
const server = http.createServer((req, res) => {
  if (closing) res.setHeader('connection', 'close');
  res.setHeader('x-app-version', version);
  if (req.method === 'POST') {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
    return;
  }
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': small.length });
  res.end(small);
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  closing = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Connections that were busy close as their response ends (connection: close above).
  setInterval(() => server.closeIdleConnections(), 20).unref();
  setTimeout(() => process.exit(0), 5000).unref();
});
