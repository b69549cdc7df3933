// Baton's test app: plain node, no dependencies. Serves its version so tests can tell which
// container answered, and exits 0 on SIGTERM after closing its server (a graceful `docker stop`).
//
//   GET  /healthz       200 "ok"
//   GET  /              200 {"version": APP_VERSION or BATON_VERSION, "pid": ...}
//   POST /echo          200 with the request body
//   GET  /slow?ms=N     answers after N ms (in-flight requests for drain tests)
//   GET  /say?text=T    writes T to stdout (to=stderr: to stderr), for `baton logs` tests
//
// Listens on HOST (default 127.0.0.1) : PORT (default 3000).
// CRASH_AT_START=N: print "boom: crashing on purpose" to stderr and exit N before listening.
//
// Runs both as CommonJS (in the image) and as an ES module (inside Baton's repo, whose
// package.json says "type": "module"): hence the dynamic import and no top-level return.
'use strict';

const version = process.env.APP_VERSION || process.env.BATON_VERSION || 'unknown';
const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || '127.0.0.1';

// A stop that comes before the server is up exits at once. As PID 1 of its container the app
// ignores any signal it has no handler for, so a SIGTERM during start-up would otherwise wait
// for docker stop's SIGKILL (exit 137).
let shutdown = () => process.exit(0);
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));

if (process.env.CRASH_AT_START) {
  process.stderr.write('boom: crashing on purpose\n');
  process.exitCode = Number(process.env.CRASH_AT_START) || 1;
} else {
  import('node:http').then(serve);
}

function handle(req, res) {
  const url = new URL(req.url || '/', 'http://app');
  if (req.method === 'GET' && url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  } else if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version, pid: process.pid }));
  } else if (req.method === 'POST' && url.pathname === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': req.headers['content-type'] || 'application/octet-stream' });
      res.end(Buffer.concat(chunks));
    });
  } else if (req.method === 'GET' && url.pathname === '/say') {
    const text = url.searchParams.get('text') || '';
    if (url.searchParams.get('to') === 'stderr') process.stderr.write(text + '\n');
    else process.stdout.write(text + '\n');
    res.writeHead(200, { 'content-type': 'text/plain' }).end('said\n');
  } else if (req.method === 'GET' && url.pathname === '/slow') {
    const ms = Math.min(Number(url.searchParams.get('ms')) || 1000, 60_000);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version, ms }));
    }, ms);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

function serve(http) {
  const server = http.createServer(handle);
  server.listen(port, host, () => {
    console.log(`test app ${version} listening on ${host}:${port}`);
  });

  shutdown = (signal) => {
    console.log(`test app ${version} got ${signal}, closing`);
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    // In-flight requests get a while to finish; docker stop's SIGKILL is the real bound.
    setTimeout(() => process.exit(0), 10_000).unref();
  };
}
