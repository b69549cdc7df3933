// The peers' minimal upstream (from the shared peer set; .cjs because this package is ESM, plus
// HOST and SIGTERM so Baton can run it as a service). ~100-byte JSON body, keep-alive. PORT env.
const http = require('http');
const body = Buffer.from('{"ok":true,"service":"upstream","msg":"hello from the minimal node upstream server!!!!!!!!!!!!!!"}\n');
const srv = http.createServer((req, res) => {
  // drain any request body
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
srv.keepAliveTimeout = 65000;   // longer than proxies' idle pools -> avoid reuse races
srv.headersTimeout = 66000;
srv.listen(+process.env.PORT || 9000, process.env.HOST || '127.0.0.1', () => console.log('upstream on', srv.address().port, 'body', body.length));
process.on('SIGTERM', () => process.exit(0));
