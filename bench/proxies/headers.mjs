// Header rules shared by the comparison proxies, the work Baton does on every request too:
// hop-by-hop headers (RFC 9110 7.6.1, plus any named in Connection) dropped both ways, and
// X-Forwarded-For/-Proto/-Host set on the way up. Flat [name, value, ...] lists, as
// node:http's rawHeaders, so repeated headers and their case survive.

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'transfer-encoding']);

function hopByHop(raw) {
  const drop = new Set(HOP_BY_HOP);
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1].split(',')) drop.add(token.trim().toLowerCase());
  }
  return drop;
}

/**
 * The request headers sent upstream. `keepFraming` keeps Transfer-Encoding (for a client that
 * sends the body as it came, node:http's); undici frames the body itself and refuses it.
 */
export function requestHeaders(req, { keepFraming = true } = {}) {
  const raw = req.rawHeaders;
  const drop = hopByHop(raw);
  if (keepFraming) drop.delete('transfer-encoding');
  else drop.add('expect');
  const out = [];
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'host') host = raw[i + 1];
    if (drop.has(name) || name === 'x-forwarded-for' || name === 'x-forwarded-proto' || name === 'x-forwarded-host') continue;
    out.push(raw[i], raw[i + 1]);
  }
  out.push('x-forwarded-for', req.socket.remoteAddress ?? '', 'x-forwarded-proto', 'http', 'x-forwarded-host', host);
  return out;
}

/** The response headers sent to the client (node:http frames the body again). */
export function responseHeaders(raw) {
  const drop = hopByHop(raw);
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!drop.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

/** The upstream and the listening port of a comparison proxy, from its environment. */
export function settings(env) {
  const port = Number(env.PORT);
  const upstreamPort = Number(env.UPSTREAM_PORT);
  if (!(port > 0) || !(upstreamPort > 0)) throw new Error('PORT and UPSTREAM_PORT are required');
  return { port, host: env.HOST ?? '127.0.0.1', upstream: { host: env.UPSTREAM_HOST ?? '127.0.0.1', port: upstreamPort } };
}

/** A bare 502 for a request the upstream failed, or a cut when the answer had started. */
export function fail(res) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(502, { 'content-type': 'text/plain', 'content-length': 12, connection: 'close' });
  res.end('bad gateway\n');
}

/** Keep-alive as the peers' configurations have it (nginx keepalive_timeout 65s). */
export function keepAliveLikePeers(server) {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  return server;
}

/** Listen, say so on stdout, and exit on SIGTERM. */
export function serve(server, { port, host }, name) {
  server.listen(port, host, () => process.stdout.write(`${name} listening on ${host}:${port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}
