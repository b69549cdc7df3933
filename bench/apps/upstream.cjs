// The peers' minimal upstream (from the shared peer set; .cjs because this package is ESM, plus
// HOST and SIGTERM so Baton can run it as a service). ~100-byte JSON body, keep-alive. PORT env.
// Bench addition: GET /bytes/N answers N bytes (N <= 16 MiB, made once per size) for the
// large-response workloads; every other path answers the small body, as the shared one does.
const http = require('http');
const body = Buffer.from('{"ok":true,"service":"upstream","msg":"hello from the minimal node upstream server!!!!!!!!!!!!!!"}\n');
const sized = new Map();
function bytes(url) {
  if (!url.startsWith('/bytes/')) return body;
  const n = Number(url.slice(7));
  if (!Number.isInteger(n) || n < 0 || n > 16 * 1024 * 1024) return body;
  let b = sized.get(n);
  if (b === undefined) sized.set(n, (b = Buffer.alloc(n, 'x')));
  return b;
}
const srv = http.createServer((req, res) => {
  // drain any request body
  req.resume();
  req.on('end', () => {
    const out = bytes(req.url);
    res.writeHead(200, { 'content-type': out === body ? 'application/json' : 'application/octet-stream', 'content-length': out.length });
    res.end(out);
  });
});
srv.keepAliveTimeout = 65000;   // longer than proxies' idle pools -> avoid reuse races
srv.headersTimeout = 66000;
srv.listen(+process.env.PORT || 9000, process.env.HOST || '127.0.0.1', () => console.log('upstream on', srv.address().port, 'body', body.length));
process.on('SIGTERM', () => process.exit(0));
