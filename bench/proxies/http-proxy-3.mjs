// Comparison proxy: http-proxy-3 (the maintained successor of http-proxy, the package the
// design first named) on node:http's server, over a keep-alive http.Agent (without one it
// sends `Connection: close` upstream). What Baton's `http-proxy-3` forwarder did
// (src/proxy/forward-http-proxy3.ts before issue 10), without Baton's rules around it.
//
//   PORT=8080 UPSTREAM_PORT=9000 node bench/proxies/http-proxy-3.mjs
import http from 'node:http';
import { ProxyServer } from 'http-proxy-3';
import { fail, keepAliveLikePeers, serve, settings } from './headers.mjs';

const config = settings(process.env);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, timeout: 4000, scheduling: 'lifo' });
// xfwd: the X-Forwarded-* headers Baton (and the other comparison proxies) set.
const proxy = new ProxyServer({ target: { host: config.upstream.host, port: config.upstream.port }, agent, xfwd: true, preserveHeaderKeyCase: true, ws: false });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse) fail(res);
  else res.destroy?.();
});

const server = http.createServer((req, res) => proxy.web(req, res));
serve(keepAliveLikePeers(server), config, 'http-proxy-3');
