// Comparison proxy: node:http's server, an undici Pool (keep-alive, no pipelining) driven by
// `dispatch` with a raw handler: the response head as undici's raw buffers, the body written as
// it comes, undici paused while the client is slow. What Baton's `undici` forwarder did
// (src/proxy/forward-undici.ts before issue 10), without Baton's rules around it.
//
//   PORT=8080 UPSTREAM_PORT=9000 node bench/proxies/undici.mjs
import http from 'node:http';
import { Pool } from 'undici';
import { fail, keepAliveLikePeers, requestHeaders, responseHeaders, serve, settings } from './headers.mjs';

const config = settings(process.env);
// The forwarder's options: one request per connection at a time, no undici timers.
const pool = new Pool(`http://${config.upstream.host}:${config.upstream.port}`, { pipelining: 1, keepAliveTimeout: 4000, headersTimeout: 0, bodyTimeout: 0 });

function bodiless(req) {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

/** One exchange: the handler undici calls back. */
class Exchange {
  constructor(req, res) {
    this.res = res;
    this.abort = undefined;
    this.resume = undefined;
    this.responded = false;
    this.done = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        this.done = true;
        this.abort?.();
      }
    });
  }
  onConnect(abort) {
    if (this.done) abort();
    else this.abort = abort;
  }
  onHeaders(statusCode, rawHeaders, resume, statusText) {
    if (statusCode < 200) return true;
    const raw = new Array(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) raw[i] = rawHeaders[i].toString('latin1');
    this.res.writeHead(statusCode, statusText, responseHeaders(raw));
    this.responded = true;
    this.resume = resume;
    return true;
  }
  onData(chunk) {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resume);
    return false;
  }
  onComplete() {
    this.done = true;
    this.res.end();
  }
  onError() {
    if (this.done) return;
    this.done = true;
    fail(this.res);
  }
}

const server = http.createServer((req, res) => {
  pool.dispatch(
    { path: req.url, method: req.method, headers: requestHeaders(req, { keepFraming: false }), body: bodiless(req) ? null : req },
    new Exchange(req, res),
  );
});
serve(keepAliveLikePeers(server), config, 'undici');
