// Comparison proxy: node:http's server, node:http's client over a keep-alive http.Agent, both
// bodies piped. What Baton's `node` forwarder did (src/proxy/forward-node.ts before issue 10),
// without Baton's rules around it (retry, timeouts, drain, error pages).
//
//   PORT=8080 UPSTREAM_PORT=9000 node bench/proxies/node-http.mjs
import http from 'node:http';
import { fail, keepAliveLikePeers, requestHeaders, responseHeaders, serve, settings } from './headers.mjs';

const config = settings(process.env);
// Baton's Upstream.agent: pooled sockets closed before a typical upstream's keep-alive timeout.
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, timeout: 4000, scheduling: 'lifo' });

const server = http.createServer((req, res) => {
  const upstreamReq = http.request({
    host: config.upstream.host,
    port: config.upstream.port,
    method: req.method,
    path: req.url,
    headers: requestHeaders(req),
    agent,
    setHost: false,
  });
  upstreamReq.on('response', (upstreamRes) => {
    res.writeHead(upstreamRes.statusCode, upstreamRes.statusMessage, responseHeaders(upstreamRes.rawHeaders));
    upstreamRes.on('error', () => res.destroy());
    upstreamRes.pipe(res);
  });
  upstreamReq.on('error', () => fail(res));
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
  req.pipe(upstreamReq);
});
serve(keepAliveLikePeers(server), config, 'node-http');
